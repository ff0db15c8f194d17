import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  decideEntitlement,
  isEntitledStatus,
  judgeSubscription,
  rankStatus,
} from '../../src/domain/entitlement-policy.js';
import type {
  CardSnapshot,
  CustomerProjection,
  EntitlementStatus,
  PolicySettings,
  SubscriptionSnapshot,
} from '../../src/domain/projection.js';

const DAY = 86_400_000;
const at = (iso: string): number => Date.parse(iso);
const settings: PolicySettings = { cardExpiredGraceDays: 7, pastDueGraceDays: 14 };
const NOW = at('2026-06-15T12:00:00.000Z');

function buildCard(overrides: Partial<CardSnapshot> = {}): CardSnapshot {
  return { id: 'pm_card', brand: 'visa', last4: '4242', exp_month: 8, exp_year: 2030, ...overrides };
}

function buildSubscription(overrides: Partial<SubscriptionSnapshot> = {}): SubscriptionSnapshot {
  return {
    id: 'sub_1',
    status: 'active',
    current_period_end: at('2026-07-01T00:00:00.000Z'),
    cancel_at_period_end: false,
    card: buildCard(),
    past_due_since: null,
    created: at('2026-01-01T00:00:00.000Z'),
    ...overrides,
  };
}

function buildProjection(subscriptions: SubscriptionSnapshot[], overrides: Partial<CustomerProjection> = {}): CustomerProjection {
  return {
    customer: 'cus_1',
    user: 'user_1',
    email: 'reader@example.com',
    deleted: false,
    default_card: null,
    subscriptions,
    read_at: NOW,
    ...overrides,
  };
}

const decideOne = (subscription: SubscriptionSnapshot, now = NOW, policy = settings) =>
  decideEntitlement(buildProjection([subscription]), now, policy);

describe('decideEntitlement without a usable customer', () => {
  it('denies an unknown customer', () => {
    assert.deepEqual(decideEntitlement(null, NOW, settings), {
      entitled: false,
      status: 'none',
      reason: 'unknown_customer',
      grace_until: null,
      subscription: null,
      card: null,
    });
  });

  it('denies a deleted customer even if subscriptions linger in the projection', () => {
    const result = decideEntitlement(buildProjection([buildSubscription()], { deleted: true }), NOW, settings);
    assert.equal(result.entitled, false);
    assert.equal(result.status, 'none');
    assert.equal(result.reason, 'customer_deleted');
  });

  it('denies a customer without subscriptions', () => {
    const result = decideEntitlement(buildProjection([], { default_card: buildCard() }), NOW, settings);
    assert.equal(result.entitled, false);
    assert.equal(result.reason, 'no_subscription');
    assert.equal(result.card, null);
  });
});

describe('decideEntitlement for a single subscription', () => {
  it('entitles an active subscription with a valid card', () => {
    const subscription = buildSubscription();
    const result = decideOne(subscription);
    assert.equal(result.entitled, true);
    assert.equal(result.status, 'active');
    assert.equal(result.reason, 'subscribed');
    assert.equal(result.grace_until, null);
    assert.equal(result.subscription, subscription);
    assert.deepEqual(result.card, { ...buildCard(), expired: false });
  });

  it('entitles a trialing subscription', () => {
    const result = decideOne(buildSubscription({ status: 'trialing' }));
    assert.deepEqual([result.entitled, result.status, result.reason], [true, 'trialing', 'trial']);
  });

  it('entitles an active subscription without any known card', () => {
    const result = decideOne(buildSubscription({ card: null }));
    assert.deepEqual([result.entitled, result.status, result.card], [true, 'active', null]);
  });

  it('treats a card with a nonsense expiry as unknown rather than expired', () => {
    const result = decideOne(buildSubscription({ card: buildCard({ exp_month: 13 }) }));
    assert.equal(result.status, 'active');
    assert.equal(result.card?.expired, false);
  });

  for (const [status, expected, reason] of [
    ['unpaid', 'payment_failed', 'payment_failed'],
    ['canceled', 'canceled', 'canceled'],
    ['incomplete_expired', 'canceled', 'canceled'],
    ['incomplete', 'incomplete', 'incomplete'],
    ['paused', 'paused', 'paused'],
  ] as const) {
    it(`denies a ${status} subscription as ${expected}`, () => {
      const result = decideOne(buildSubscription({ status }));
      assert.deepEqual([result.entitled, result.status, result.reason], [false, expected, reason]);
    });
  }
});

describe('decideEntitlement when the card expires', () => {
  // A May 2026 card expires at 2026-06-01T00:00Z; with 7 grace days access ends 2026-06-08T00:00Z.
  const mayCard = buildCard({ exp_month: 5, exp_year: 2026 });
  const expiresAt = at('2026-06-01T00:00:00.000Z');
  const graceUntil = at('2026-06-08T00:00:00.000Z');

  it('stays active until the last millisecond of the printed month', () => {
    const result = decideOne(buildSubscription({ card: mayCard }), expiresAt - 1);
    assert.equal(result.status, 'active');
    assert.equal(result.card?.expired, false);
  });

  it('enters the card grace period at the expiry instant', () => {
    const result = decideOne(buildSubscription({ card: mayCard }), expiresAt);
    assert.equal(result.entitled, true);
    assert.equal(result.status, 'grace_period');
    assert.equal(result.reason, 'card_expired_grace');
    assert.equal(result.grace_until, graceUntil);
    assert.equal(result.card?.expired, true);
  });

  it('keeps access one millisecond before grace_until', () => {
    assert.equal(decideOne(buildSubscription({ card: mayCard }), graceUntil - 1).entitled, true);
  });

  it('revokes access at exactly grace_until, the first instant without access', () => {
    const result = decideOne(buildSubscription({ card: mayCard }), graceUntil);
    assert.deepEqual([result.entitled, result.status, result.reason, result.grace_until], [false, 'card_expired', 'card_expired', null]);
    assert.equal(result.card?.expired, true);
  });

  it('applies the card grace to a trial as well', () => {
    const result = decideOne(buildSubscription({ status: 'trialing', card: mayCard }), expiresAt);
    assert.equal(result.reason, 'card_expired_grace');
  });

  it('with zero grace days, is card_expired from the expiry instant on', () => {
    const noGrace = { ...settings, cardExpiredGraceDays: 0 };
    assert.equal(decideOne(buildSubscription({ card: mayCard }), expiresAt - 1, noGrace).status, 'active');
    assert.equal(decideOne(buildSubscription({ card: mayCard }), expiresAt, noGrace).status, 'card_expired');
  });

  it('handles a December card across the year boundary', () => {
    const decCard = buildCard({ exp_month: 12, exp_year: 2026 });
    const newYear = at('2027-01-01T00:00:00.000Z');
    assert.equal(decideOne(buildSubscription({ card: decCard }), newYear - 1).status, 'active');
    const result = decideOne(buildSubscription({ card: decCard }), newYear);
    assert.equal(result.status, 'grace_period');
    assert.equal(result.grace_until, at('2027-01-08T00:00:00.000Z'));
  });

  it('handles a February card in a leap year', () => {
    const febCard = buildCard({ exp_month: 2, exp_year: 2028 });
    assert.equal(decideOne(buildSubscription({ card: febCard }), at('2028-02-29T23:59:59.999Z')).status, 'active');
    assert.equal(decideOne(buildSubscription({ card: febCard }), at('2028-03-01T00:00:00.000Z')).status, 'grace_period');
  });

  it('does not apply the card rule to a past_due subscription, which has its own grace', () => {
    const since = at('2026-06-10T00:00:00.000Z');
    const result = decideOne(buildSubscription({ status: 'past_due', past_due_since: since, card: mayCard }), graceUntil + DAY);
    assert.equal(result.reason, 'payment_failed_grace');
    assert.equal(result.grace_until, since + 14 * DAY);
  });
});

describe('decideEntitlement when a payment fails', () => {
  const since = at('2026-06-01T00:00:00.000Z');
  const graceUntil = at('2026-06-15T00:00:00.000Z');
  const pastDue = buildSubscription({ status: 'past_due', past_due_since: since });

  it('grants a payment grace period counted from past_due_since', () => {
    const result = decideOne(pastDue, since);
    assert.deepEqual([result.entitled, result.status, result.reason, result.grace_until], [true, 'grace_period', 'payment_failed_grace', graceUntil]);
  });

  it('keeps access one millisecond before grace_until and revokes it at grace_until', () => {
    assert.equal(decideOne(pastDue, graceUntil - 1).entitled, true);
    const result = decideOne(pastDue, graceUntil);
    assert.deepEqual([result.entitled, result.status, result.reason, result.grace_until], [false, 'payment_failed', 'payment_failed', null]);
  });

  it('starts the grace now when the failure start is unknown', () => {
    const result = decideOne(buildSubscription({ status: 'past_due', past_due_since: null }));
    assert.equal(result.status, 'grace_period');
    assert.equal(result.grace_until, NOW + 14 * DAY);
  });

  it('with zero grace days, denies a past_due subscription at once', () => {
    const result = decideOne(buildSubscription({ status: 'past_due', past_due_since: null }), NOW, { ...settings, pastDueGraceDays: 0 });
    assert.equal(result.status, 'payment_failed');
  });
});

describe('decideEntitlement with several subscriptions', () => {
  const expiredCard = buildCard({ exp_month: 1, exp_year: 2026 });

  it('lets an active subscription win over a newer canceled one, in any order', () => {
    const active = buildSubscription({ id: 'sub_active', created: at('2025-01-01T00:00:00.000Z') });
    const canceled = buildSubscription({ id: 'sub_canceled', status: 'canceled', created: at('2026-05-01T00:00:00.000Z') });
    for (const order of [[active, canceled], [canceled, active]]) {
      const result = decideEntitlement(buildProjection(order), NOW, settings);
      assert.equal(result.subscription?.id, 'sub_active');
      assert.equal(result.entitled, true);
    }
  });

  it('ranks every status in the documented order', () => {
    const subscriptions = [
      buildSubscription({ id: 'canceled', status: 'canceled' }),
      buildSubscription({ id: 'incomplete', status: 'incomplete' }),
      buildSubscription({ id: 'paused', status: 'paused' }),
      buildSubscription({ id: 'unpaid', status: 'unpaid' }),
      buildSubscription({ id: 'card_expired', card: expiredCard }),
      buildSubscription({ id: 'grace', status: 'past_due', past_due_since: NOW }),
      buildSubscription({ id: 'trialing', status: 'trialing' }),
      buildSubscription({ id: 'active' }),
    ];
    const winners: string[] = [];
    for (let remaining = subscriptions; remaining.length > 0; ) {
      const winner = decideEntitlement(buildProjection(remaining), NOW, settings).subscription?.id ?? '';
      winners.push(winner);
      remaining = remaining.filter((s) => s.id !== winner);
    }
    assert.deepEqual(winners, ['active', 'trialing', 'grace', 'card_expired', 'unpaid', 'paused', 'incomplete', 'canceled']);
  });

  it('prefers the grace period that lasts longer', () => {
    const shortGrace = buildSubscription({ id: 'sub_short', status: 'past_due', past_due_since: NOW - 10 * DAY });
    const longGrace = buildSubscription({ id: 'sub_long', status: 'past_due', past_due_since: NOW - DAY, created: 0 });
    const result = decideEntitlement(buildProjection([shortGrace, longGrace]), NOW, settings);
    assert.equal(result.subscription?.id, 'sub_long');
    assert.equal(result.grace_until, NOW + 13 * DAY);
  });

  it('breaks a tie by the later current_period_end, then by the later created', () => {
    const early = buildSubscription({ id: 'sub_early', current_period_end: at('2026-07-01T00:00:00.000Z') });
    const late = buildSubscription({ id: 'sub_late', current_period_end: at('2026-08-01T00:00:00.000Z') });
    const noEnd = buildSubscription({ id: 'sub_none', current_period_end: null, created: at('2026-06-01T00:00:00.000Z') });
    assert.equal(decideEntitlement(buildProjection([early, late, noEnd]), NOW, settings).subscription?.id, 'sub_late');

    const older = buildSubscription({ id: 'sub_older', created: at('2025-01-01T00:00:00.000Z') });
    const newer = buildSubscription({ id: 'sub_newer', created: at('2026-01-01T00:00:00.000Z') });
    assert.equal(decideEntitlement(buildProjection([older, newer]), NOW, settings).subscription?.id, 'sub_newer');
  });

  it('reports the card of the deciding subscription', () => {
    const canceled = buildSubscription({ id: 'sub_old', status: 'canceled', card: expiredCard });
    const active = buildSubscription({ id: 'sub_new', card: buildCard({ id: 'pm_new' }) });
    assert.equal(decideEntitlement(buildProjection([canceled, active]), NOW, settings).card?.id, 'pm_new');
  });
});

describe('policy helpers', () => {
  it('entitles exactly active, trialing and grace_period', () => {
    const all: EntitlementStatus[] = ['active', 'trialing', 'grace_period', 'card_expired', 'payment_failed', 'canceled', 'incomplete', 'paused', 'none'];
    assert.deepEqual(all.filter(isEntitledStatus), ['active', 'trialing', 'grace_period']);
  });

  it('ranks entitled statuses above every denied one', () => {
    assert.ok(rankStatus('grace_period') < rankStatus('card_expired'));
    assert.ok(rankStatus('canceled') < rankStatus('none'));
  });

  it('judges a subscription on its own', () => {
    assert.deepEqual(judgeSubscription(buildSubscription({ status: 'paused' }), NOW, settings), {
      status: 'paused',
      reason: 'paused',
      grace_until: null,
    });
  });
});
