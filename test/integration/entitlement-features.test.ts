import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { API_TOKEN, createHarness, type Harness } from '../support/harness.js';
import { accessFeaturesFor, seedCatalog, seedMultiReader, swapPrice, type Catalog } from '../support/catalog.js';
import { seedReader } from '../support/readers.js';
import { createTestResync } from '../support/resync.js';

const START = Date.UTC(2026, 10, 2, 12, 0, 0);
type Answer = { feature: string; entitled: boolean; status: string; reason: string };
const byFeature = (features: Answer[]) => Object.fromEntries(features.map((f) => [f.feature, [f.status, f.reason]]));

describe('GET /v1/entitlements per feature (ACCESS_FEATURES_SOURCE=config)', () => {
  let h: Harness;
  let c: Catalog;
  const sec = () => Math.floor(h.clock.now() / 1000);

  before(async () => {
    h = await createHarness({ label: 'ent-features', clockStart: START, workers: false, env: { ACCESS_FEATURES_SOURCE: 'config', ACCESS_FEATURES: accessFeaturesFor(seedCatalogIds()) } });
    c = seedCatalog(h.stripe, sec(), 'ef');
  });
  after(async () => {
    await h.close();
  });

  test('a Puzzles-only reader: Puzzles opens, News is not in the plan, and no feature= asks about the default', async () => {
    const r = seedMultiReader(h.stripe, { userId: 'puz-only', nowSeconds: sec(), subscriptions: [{ price: c.prices.puzzles }] });
    await h.syncCustomer(r.customer.id);
    const puzzles = await h.entitlement({ customer: r.customer.id, feature: 'puzzles' });
    assert.deepEqual([puzzles.status, puzzles.body.entitled, puzzles.body.status, puzzles.body.feature], [200, true, 'active', 'puzzles']);
    const news = await h.entitlement({ user: 'puz-only', feature: 'news' });
    assert.deepEqual([news.body.entitled, news.body.status, news.body.reason, news.body.feature], [false, 'none', 'not_in_plan', 'news']);
    assert.equal(news.body.message, 'Your subscription does not include this.');
    assert.equal(news.body.subscription, null);
    const plain = await h.entitlement({ user: 'puz-only' });
    assert.deepEqual([plain.body.entitled, plain.body.feature, plain.body.reason], [false, 'content', 'not_in_plan']);
    assert.deepEqual(byFeature(plain.body.features), { puzzles: ['active', 'subscribed'] });
  });

  test('News on an expired card, Puzzles on another valid card: News closed, Puzzles open', async () => {
    const r = seedMultiReader(h.stripe, {
      userId: 'two-cards',
      nowSeconds: sec(),
      subscriptions: [{ price: c.prices.news, exp_month: 9, exp_year: 2026 }, { price: c.prices.puzzles }],
    });
    await h.syncCustomer(r.customer.id);
    const news = await h.entitlement({ user: 'two-cards', feature: 'news' });
    assert.deepEqual([news.body.entitled, news.body.status, news.body.card.expired], [false, 'card_expired', true]);
    assert.equal(news.body.subscription.id, r.held[0]!.subscription.id);
    const puzzles = await h.entitlement({ user: 'two-cards', feature: 'puzzles' });
    assert.deepEqual([puzzles.body.entitled, puzzles.body.status, puzzles.body.card.expired], [true, 'active', false]);
    assert.deepEqual(byFeature(puzzles.body.features), { news: ['card_expired', 'card_expired'], puzzles: ['active', 'subscribed'] });
  });

  test('an upgrade to the bundle, then a swap to Cooking, move the features at the next refresh', async () => {
    const r = seedMultiReader(h.stripe, { userId: 'upgrader', nowSeconds: sec(), subscriptions: [{ price: c.prices.news }] });
    await h.syncCustomer(r.customer.id);
    assert.deepEqual(Object.keys(byFeature((await h.entitlement({ user: 'upgrader' })).body.features)), ['news']);
    swapPrice(h.stripe, r.held[0]!.subscription.id, c.prices.bundle);
    await h.syncCustomer(r.customer.id);
    assert.deepEqual(Object.keys(byFeature((await h.entitlement({ user: 'upgrader' })).body.features)), ['cooking', 'news', 'puzzles']);
    swapPrice(h.stripe, r.held[0]!.subscription.id, c.prices.cooking);
    await h.syncCustomer(r.customer.id);
    const after = await h.entitlement({ user: 'upgrader', feature: 'news' });
    assert.equal(after.body.reason, 'not_in_plan');
    assert.deepEqual(Object.keys(byFeature(after.body.features)), ['cooking']);
  });

  test('a price nobody mapped grants nothing', async () => {
    const r = seedReader(h.stripe, { userId: 'unmapped', nowSeconds: sec() });
    await h.syncCustomer(r.customer.id);
    const answer = await h.entitlement({ customer: r.customer.id });
    assert.deepEqual([answer.body.entitled, answer.body.reason, answer.body.features], [false, 'not_in_plan', []]);
  });

  test('the resync projects items too', async () => {
    const r = seedMultiReader(h.stripe, { userId: 'resynced', nowSeconds: sec(), subscriptions: [{ price: c.prices.bundle }] });
    const { run } = createTestResync(h, { catalog: h.worker.catalog });
    await run({ fresh: true });
    assert.equal((await h.entitlement({ customer: r.customer.id, feature: 'cooking' })).body.entitled, true);
  });

  test('the reader and their grants go out together: one write by customer, two by user (index, then customers)', async () => {
    const r = seedMultiReader(h.stripe, { userId: 'one-trip', nowSeconds: sec(), subscriptions: [{ price: c.prices.news }] });
    await h.syncCustomer(r.customer.id);
    const stream = (h.apiRedis as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
    const original = stream.write;
    const writes: string[] = [];
    stream.write = function (this: unknown, ...args: unknown[]) {
      writes.push(String(args[0]));
      return original.apply(this, args);
    };
    try {
      // By customer: the reader's hash and their grants in one write.
      writes.length = 0;
      const byCustomer = await h.entitlement({ customer: r.customer.id, feature: 'news' });
      assert.equal(byCustomer.body.status, 'active');
      assert.equal(writes.length, 1, 'one write by customer');
      assert.match(writes[0]!, /grants:cus:/, 'the grants are read in it');
      // By user: the user index (sharded by user id, so on another cluster slot than the customers it
      // lists) and the user's grants in one write, then the customers it names: two, never one per grant.
      writes.length = 0;
      const byUser = await h.entitlement({ user: 'one-trip', feature: 'news' });
      assert.equal(byUser.body.status, 'active');
      assert.equal(writes.length, 2, 'two writes by user');
      assert.match(writes[0]!, /grants:user:/, 'the grants go out with the index read');
    } finally {
      stream.write = original;
    }
  });

  test('a malformed feature is a 400 invalid_feature: uppercase, too long, repeated, empty', async () => {
    const r = seedMultiReader(h.stripe, { userId: 'bad-input', nowSeconds: sec(), subscriptions: [{ price: c.prices.news }] });
    await h.syncCustomer(r.customer.id);
    for (const feature of ['News', 'x'.repeat(65), '', '-news', 'news feed']) {
      const res = await h.entitlement({ customer: r.customer.id, feature });
      assert.equal(res.status, 400, JSON.stringify(feature));
      assert.equal(res.body.error.code, 'invalid_feature');
    }
    const repeated = await request(h.app).get(`/v1/entitlements?customer=${r.customer.id}&feature=news&feature=puzzles`).set('Authorization', `Bearer ${API_TOKEN}`);
    assert.equal(repeated.status, 400);
    assert.equal(repeated.body.error.code, 'invalid_feature');
    const unknown = await h.entitlement({ customer: r.customer.id, feature: 'sports' });
    assert.deepEqual([unknown.status, unknown.body.reason], [200, 'not_in_plan']);
  });
});

/** The ids seedCatalog gives with tag 'ef', so the config map can be written before the catalog exists. */
function seedCatalogIds(): Catalog {
  const id = (value: string) => ({ id: value });
  return {
    products: { news: id('prod_efNews'), puzzles: id('prod_efPuzzles'), cooking: id('prod_efCooking'), bundle: id('prod_efBundle') },
    prices: { news: id('price_efNews'), puzzles: id('price_efPuzzles'), cooking: id('price_efCooking'), bundle: id('price_efBundle') },
    features: { news: id('feat_efnews'), puzzles: id('feat_efpuzzles'), cooking: id('feat_efcooking') },
  } as Catalog;
}
