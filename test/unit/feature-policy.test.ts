import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { decideEntitlement, decideFeatures } from '../../src/domain/entitlement-policy.js';
import { decideUserEntitlement, decideUserFeatures } from '../../src/domain/user-entitlement.js';
import { featuresOfItem, parseAccessFeatures, AccessFeaturesError } from '../../src/domain/features.js';
import { projectCustomer, subscriptionItems } from '../../src/domain/stripe-projection.js';
import type {
  AccessGrant,
  CardSnapshot,
  CustomerProjection,
  FeatureSettings,
  PolicySettings,
  SubscriptionItemSnapshot,
  SubscriptionSnapshot,
} from '../../src/domain/projection.js';
import type { StripeCustomerLike, StripeSubscriptionLike } from '../../src/domain/stripe-shapes.js';

const DAY = 86_400_000;
const at = (iso: string): number => Date.parse(iso);
const NOW = at('2026-06-15T12:00:00.000Z');

const CONFIG: FeatureSettings = {
  source: 'config',
  defaultFeature: 'content',
  map: parseAccessFeatures('news_monthly=news,prod_Puz123=puzzles,bundle_annual=news+puzzles+cooking,price_cook=cooking'),
};
const STRIPE: FeatureSettings = { source: 'stripe', defaultFeature: 'content', map: {} };
const withFeatures = (features: FeatureSettings): PolicySettings => ({ cardExpiredGraceDays: 0, pastDueGraceDays: 7, features });

const item = (overrides: Partial<SubscriptionItemSnapshot>): SubscriptionItemSnapshot => ({ price: null, lookup_key: null, product: null, ...overrides });

function card(id: string, exp_month: number, exp_year: number): CardSnapshot {
  return { id, brand: 'visa', last4: '4242', exp_month, exp_year };
}

function subscription(id: string, items: SubscriptionItemSnapshot[], overrides: Partial<SubscriptionSnapshot> = {}): SubscriptionSnapshot {
  return {
    id,
    status: 'active',
    current_period_end: at('2026-07-01T00:00:00.000Z'),
    cancel_at_period_end: false,
    card: card(`pm_${id}`, 12, 2030),
    past_due_since: null,
    created: at('2026-01-01T00:00:00.000Z'),
    items,
    ...overrides,
  };
}

function projection(subscriptions: SubscriptionSnapshot[], overrides: Partial<CustomerProjection> = {}): CustomerProjection {
  return { customer: 'cus_1', user: 'user_1', email: null, deleted: false, default_card: null, subscriptions, read_at: NOW, ...overrides };
}

const NEWS = item({ price: 'price_news', lookup_key: 'news_monthly', product: 'prod_News1' });
const PUZZLES = item({ price: 'price_puz', lookup_key: null, product: 'prod_Puz123' });
const BUNDLE = item({ price: 'price_bundle', lookup_key: 'bundle_annual', product: 'prod_Bundle' });

function grant(feature: string, until: number, overrides: Partial<AccessGrant> = {}): AccessGrant {
  return { id: 'gr_1', customer: 'cus_1', user: null, feature, until, reason: 'complaint', created_by: 'desk', created_at: NOW - DAY, ...overrides };
}

describe('feature resolution', () => {
  it('none: every item grants the default feature', () => {
    const none: FeatureSettings = { source: 'none', defaultFeature: 'content', map: {} };
    assert.deepEqual(featuresOfItem(PUZZLES, none), ['content']);
  });

  it('config: by price lookup_key, price id or product id; an item matching nothing grants nothing', () => {
    assert.deepEqual(featuresOfItem(NEWS, CONFIG), ['news']);
    assert.deepEqual(featuresOfItem(PUZZLES, CONFIG), ['puzzles']);
    assert.deepEqual(featuresOfItem(item({ price: 'price_cook' }), CONFIG), ['cooking']);
    assert.deepEqual(featuresOfItem(BUNDLE, CONFIG).sort(), ['cooking', 'news', 'puzzles']);
    assert.deepEqual(featuresOfItem(item({ price: 'price_other', product: 'prod_Other' }), CONFIG), []);
  });

  it('stripe: the product\'s active feature lookup_keys as the snapshot carries them; an unknown product grants nothing', () => {
    const products = { prod_News1: { name: 'News', features: ['news', 'archive'] }, prod_Puz123: { name: 'Puzzles', features: [] } };
    assert.deepEqual(featuresOfItem(NEWS, STRIPE, products), ['news', 'archive']);
    assert.deepEqual(featuresOfItem(PUZZLES, STRIPE, products), []);
    assert.deepEqual(featuresOfItem(BUNDLE, STRIPE, products), []);
  });

  it('ACCESS_FEATURES: a malformed entry is named', () => {
    for (const bad of ['news_monthly', '=news', 'k=News', 'k=news+', 'a b=news', 'k=news,k=puzzles']) {
      assert.throws(() => parseAccessFeatures(bad), (err: unknown) => err instanceof AccessFeaturesError && err.message.includes('entry "'), bad);
    }
    assert.throws(() => parseAccessFeatures('ok=news, broken'), /entry "broken"/);
    assert.deepEqual(parseAccessFeatures(' a=x+y , prod_1=z '), { a: ['x', 'y'], prod_1: ['z'] });
  });
});

describe('policy per subscription, answer per feature', () => {
  const settings = withFeatures(CONFIG);

  it('a Puzzles-only reader may read Puzzles, not News (not_in_plan), and the feature-less answer is for the default', () => {
    const p = projection([subscription('sub_puz', [PUZZLES])]);
    assert.equal(decideEntitlement(p, NOW, settings, 'puzzles').status, 'active');
    const news = decideEntitlement(p, NOW, settings, 'news');
    assert.deepEqual([news.entitled, news.status, news.reason, news.subscription], [false, 'none', 'not_in_plan', null]);
    assert.equal(decideEntitlement(p, NOW, settings).reason, 'not_in_plan');
    assert.deepEqual(decideFeatures(p, NOW, settings).map((f) => [f.feature, f.entitlement.status]), [['puzzles', 'active']]);
  });

  it('two subscriptions on two cards: the expired News card closes News only, Puzzles on the other card stays open', () => {
    const p = projection([
      subscription('sub_news', [NEWS], { card: card('pm_old', 5, 2026) }),
      subscription('sub_puz', [PUZZLES], { card: card('pm_new', 12, 2030) }),
    ]);
    const news = decideEntitlement(p, NOW, settings, 'news');
    assert.deepEqual([news.entitled, news.status, news.card?.id, news.subscription?.id], [false, 'card_expired', 'pm_old', 'sub_news']);
    const puzzles = decideEntitlement(p, NOW, settings, 'puzzles');
    assert.deepEqual([puzzles.entitled, puzzles.status, puzzles.card?.id], [true, 'active', 'pm_new']);
  });

  it('a feature two subscriptions grant takes the best verdict among them', () => {
    const p = projection([
      subscription('sub_news', [NEWS], { card: card('pm_old', 5, 2026) }),
      subscription('sub_bundle', [BUNDLE], { status: 'past_due', past_due_since: NOW - DAY }),
    ]);
    const news = decideEntitlement(p, NOW, settings, 'news');
    assert.deepEqual([news.status, news.subscription?.id], ['grace_period', 'sub_bundle']);
    assert.equal(decideEntitlement(p, NOW, settings, 'cooking').reason, 'payment_failed_grace');
  });

  it('upgrade, downgrade and an item swap move features with the snapshot', () => {
    const before = projection([subscription('sub_1', [NEWS])]);
    const upgraded = projection([subscription('sub_1', [BUNDLE])]);
    const swapped = projection([subscription('sub_1', [PUZZLES])]);
    assert.deepEqual(decideFeatures(before, NOW, settings).map((f) => f.feature), ['news']);
    assert.deepEqual(decideFeatures(upgraded, NOW, settings).map((f) => f.feature), ['cooking', 'news', 'puzzles']);
    assert.equal(decideEntitlement(swapped, NOW, settings, 'news').reason, 'not_in_plan');
    assert.equal(decideEntitlement(swapped, NOW, settings, 'puzzles').entitled, true);
  });

  it('a canceled subscription\'s feature is one the reader had: listed, answered canceled', () => {
    const p = projection([subscription('sub_1', [NEWS], { status: 'canceled' }), subscription('sub_2', [PUZZLES])]);
    assert.deepEqual(decideFeatures(p, NOW, settings).map((f) => [f.feature, f.entitlement.status]), [['news', 'canceled'], ['puzzles', 'active']]);
  });

  it('a snapshot written before items were kept grants nothing once features are configured', () => {
    const { items: _items, ...legacy } = subscription('sub_1', [NEWS]);
    assert.equal(decideEntitlement(projection([legacy]), NOW, settings, 'news').reason, 'not_in_plan');
  });

  it('with no feature configuration every subscription grants the default feature, as before', () => {
    const plain: PolicySettings = { cardExpiredGraceDays: 0, pastDueGraceDays: 7 };
    const p = projection([subscription('sub_1', [])]);
    assert.equal(decideEntitlement(p, NOW, plain).status, 'active');
    assert.deepEqual(decideFeatures(p, NOW, plain).map((f) => f.feature), ['content']);
    assert.equal(decideEntitlement(projection([]), NOW, plain).reason, 'no_subscription');
  });

  it('stripe source: features follow the products the snapshot was read with', () => {
    const p = projection([subscription('sub_1', [NEWS, PUZZLES])], {
      products: { prod_News1: { name: 'News', features: ['news'] }, prod_Puz123: { name: 'Puzzles', features: ['puzzles', 'crosswords'] } },
    });
    assert.deepEqual(decideFeatures(p, NOW, withFeatures(STRIPE)).map((f) => f.feature), ['crosswords', 'news', 'puzzles']);
  });
});

describe('grants', () => {
  const settings = withFeatures(CONFIG);

  it('a live grant answers granted/manual_grant with grace_until = until while no subscription is better', () => {
    const until = NOW + 3 * DAY;
    const p = projection([subscription('sub_puz', [PUZZLES])]);
    const news = decideEntitlement(p, NOW, settings, 'news', [grant('news', until)]);
    assert.deepEqual([news.entitled, news.status, news.reason, news.grace_until], [true, 'granted', 'manual_grant', until]);
    // At its instant it is over.
    assert.equal(decideEntitlement(p, until, settings, 'news', [grant('news', until)]).reason, 'not_in_plan');
    // A paid subscription answers better than a grant.
    assert.equal(decideEntitlement(p, NOW, settings, 'puzzles', [grant('puzzles', until)]).status, 'active');
  });

  it('a grant over a card problem keeps the card on the answer', () => {
    const p = projection([subscription('sub_news', [NEWS], { card: card('pm_old', 5, 2026) })]);
    const news = decideEntitlement(p, NOW, settings, 'news', [grant('news', NOW + DAY)]);
    assert.deepEqual([news.status, news.card?.id, news.card?.expired], ['granted', 'pm_old', true]);
    assert.equal(decideEntitlement(p, NOW, settings, 'news').status, 'card_expired');
  });

  it('grants list their feature; a user with only a grant and no customer is granted', () => {
    const p = projection([]);
    assert.deepEqual(decideFeatures(p, NOW, settings, [grant('cooking', NOW + DAY)]).map((f) => f.feature), ['cooking']);
    const userGrant = grant('news', NOW + DAY, { customer: null, user: 'user_1' });
    assert.equal(decideUserEntitlement([], NOW, settings, 'news', [userGrant]), null);
    const answers = decideUserFeatures([], NOW, settings, [userGrant]);
    assert.deepEqual(answers.map((a) => [a.feature, a.entitlement.status]), [['news', 'granted']]);
  });

  it('a user\'s two customers: per feature the best one, and one customer\'s grant stays with it', () => {
    const a = projection([subscription('sub_a', [NEWS], { card: card('pm_old', 5, 2026) })], { customer: 'cus_a' });
    const b = projection([subscription('sub_b', [PUZZLES])], { customer: 'cus_b' });
    const answers = decideUserFeatures([a, b], NOW, settings, [grant('cooking', NOW + DAY, { customer: 'cus_a' })]);
    assert.deepEqual(
      answers.map((x) => [x.feature, x.entitlement.status, x.best?.projection.customer]),
      [['cooking', 'granted', 'cus_a'], ['news', 'card_expired', 'cus_a'], ['puzzles', 'active', 'cus_b']],
    );
  });
});

describe('items in the projection', () => {
  const customer: StripeCustomerLike = { id: 'cus_1', object: 'customer', metadata: {}, email: null, invoice_settings: { default_payment_method: null }, default_source: null } as unknown as StripeCustomerLike;
  const stripeSub = (items: unknown[]): StripeSubscriptionLike =>
    ({ id: 'sub_1', object: 'subscription', customer: 'cus_1', status: 'active', created: 1_700_000_000, cancel_at_period_end: false, items: { object: 'list', data: items }, default_payment_method: null, default_source: null, latest_invoice: null }) as unknown as StripeSubscriptionLike;

  it('keeps each item\'s price id, lookup_key and product (an id or an expanded product)', () => {
    const sub = stripeSub([
      { id: 'si_1', price: { id: 'price_news', lookup_key: 'news_monthly', product: 'prod_News1' } },
      { id: 'si_2', price: { id: 'price_puz', lookup_key: null, product: { id: 'prod_Puz123', object: 'product' } } },
      { id: 'si_3' },
    ]);
    assert.deepEqual(subscriptionItems(sub), [NEWS, PUZZLES]);
  });

  it('carries the catalog entries of its own products only, when a catalog is given', () => {
    const sub = stripeSub([{ id: 'si_1', price: { id: 'price_news', lookup_key: 'news_monthly', product: 'prod_News1' } }]);
    const base = { customer, subscriptions: [sub], readAt: NOW, userIdMetadataKey: 'user_id', previous: null };
    assert.equal(projectCustomer(base).products, undefined);
    const catalog = { prod_News1: { name: 'News', features: ['news'] }, prod_Else: { name: 'Else', features: [] } };
    assert.deepEqual(projectCustomer({ ...base, products: catalog }).products, { prod_News1: { name: 'News', features: ['news'] } });
  });
});
