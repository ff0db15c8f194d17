import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { productsAtRisk, renderNotice, type NoticeRequest } from '../../src/domain/notice.js';
import type { CardSnapshot, CustomerProjection, SubscriptionSnapshot } from '../../src/domain/projection.js';

const OLD: CardSnapshot = { id: 'pm_old', brand: 'visa', last4: '4242', exp_month: 11, exp_year: 2026 };
const NEW: CardSnapshot = { id: 'pm_new', brand: 'mastercard', last4: '4444', exp_month: 12, exp_year: 2030 };

function sub(id: string, card: CardSnapshot, products: string[], status: SubscriptionSnapshot['status'] = 'active'): SubscriptionSnapshot {
  return {
    id, status, current_period_end: null, cancel_at_period_end: false, card, past_due_since: null, created: 0,
    items: products.map((product) => ({ price: `price_${product}`, lookup_key: null, product })),
  };
}

const projection: CustomerProjection = {
  customer: 'cus_1', user: 'u1', email: 'r@example.com', deleted: false, default_card: null, read_at: 0,
  subscriptions: [sub('sub_news', OLD, ['prod_News', 'prod_Cook']), sub('sub_puz', NEW, ['prod_Puz']), sub('sub_old', OLD, ['prod_Sport'], 'canceled')],
  products: {
    prod_News: { name: 'News', features: null },
    prod_Cook: { name: 'Cooking', features: null },
    prod_Puz: { name: 'Puzzles', features: null },
    prod_Sport: { name: 'Sports', features: null },
  },
};

const request = (kind: NoticeRequest['kind'], card = OLD): NoticeRequest => ({ kind, customerId: 'cus_1', card, window: '', requestedAt: 0 });
const context = { publisherName: 'The Daily', supportEmail: 'help@daily.test', updateCardUrl: null, now: Date.UTC(2026, 10, 1) };

describe('notices name the products a card problem puts at risk', () => {
  test('the products of the live subscriptions this card pays, in their order; another card\'s and ended ones are not named', () => {
    assert.deepEqual(productsAtRisk(projection, 'pm_old'), ['News', 'Cooking']);
    assert.deepEqual(productsAtRisk(projection, 'pm_new'), ['Puzzles']);
    const { products: _products, ...unnamed } = projection;
    assert.deepEqual(productsAtRisk(unnamed, 'pm_old'), []);
  });

  test('"your News and Cooking access" in the card problem notices, text and HTML; not in access restored', () => {
    for (const kind of ['card_expiring', 'card_expired', 'payment_failed'] as const) {
      const content = renderNotice(request(kind), { ...context, products: ['News', 'Cooking'] });
      assert.match(content.text, /This card pays for your News and Cooking access\./, kind);
      assert.match(content.html, /<p>This card pays for your News and Cooking access\.<\/p>/, kind);
    }
    assert.match(renderNotice(request('card_expired'), { ...context, products: ['News', 'Puzzles', 'Cooking'] }).text, /your News, Puzzles and Cooking access/);
    assert.doesNotMatch(renderNotice(request('access_restored'), { ...context, products: ['News'] }).text, /pays for your/);
  });

  test('without named products the notice reads exactly as before', () => {
    const before = renderNotice(request('card_expired'), context);
    assert.deepEqual(renderNotice(request('card_expired'), { ...context, products: [] }), before);
    assert.doesNotMatch(before.text, /pays for your .* access/);
  });

  test('a product name is escaped in HTML', () => {
    assert.match(renderNotice(request('card_expired'), { ...context, products: ['News & <Views>'] }).html, /News &#38; &#60;Views&#62; access/);
  });
});
