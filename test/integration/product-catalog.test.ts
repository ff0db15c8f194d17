import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { refreshReadOf } from '../support/readers.js';
import { seedCatalog, seedMultiReader, type Catalog } from '../support/catalog.js';
import { createTestResync } from '../support/resync.js';
import { activeEntitlementSummaryFixture, entitlementFeatureFixture } from '../fixtures/products.js';
import type { RecordedRequest } from '../support/stripe-double.js';

const START = Date.UTC(2026, 10, 2, 12, 0, 0);
const TTL_S = 600;
const productReads = (r: RecordedRequest) => r.method === 'GET' && r.path.startsWith('/v1/products/');
const featureReads = (r: RecordedRequest) => r.method === 'GET' && /^\/v1\/products\/[^/]+\/features$/.test(r.path);

describe('the product catalog (ACCESS_FEATURES_SOURCE=stripe)', () => {
  let h: Harness;
  let c: Catalog;
  const sec = () => Math.floor(h.clock.now() / 1000);

  before(async () => {
    h = await createHarness({ label: 'catalog', clockStart: START, env: { ACCESS_FEATURES_SOURCE: 'stripe', PRODUCT_FEATURES_TTL_S: String(TTL_S) } });
    c = seedCatalog(h.stripe, sec());
  });
  after(async () => {
    await h.close();
  });

  test('a product is read once for every customer holding it, not once per refresh; again after the TTL', async () => {
    const readers = Array.from({ length: 5 }, (_, i) => seedMultiReader(h.stripe, { userId: `cat-${i}`, nowSeconds: sec(), subscriptions: [{ price: c.prices.news }] }));
    h.stripe.resetRequests();
    for (const r of readers) assert.equal(await h.syncCustomer(r.customer.id), 'written');
    for (const r of readers) await h.syncCustomer(r.customer.id);
    assert.equal(h.stripe.count(productReads), 2, 'the product and its features, once');
    assert.equal(h.stripe.count(featureReads), 1);
    // Without the catalog a refresh is one read (the subscription list carrying its customer); with it, still that one.
    assert.equal(h.stripe.count(refreshReadOf(readers[0]!.customer.id)), 2, 'two refreshes, one read each');
    assert.equal(h.stripe.count((r) => r.path.startsWith('/v1/customers/')), 0);
    const news = await h.entitlement({ customer: readers[0]!.customer.id, feature: 'news' });
    assert.equal(news.body.entitled, true);
    assert.equal(news.body.feature, 'news');

    h.clock.advance(TTL_S * 1000);
    h.stripe.resetRequests();
    for (const r of readers) await h.syncCustomer(r.customer.id);
    assert.equal(h.stripe.count(productReads), 2, 'read again once the TTL ran out');
  });

  test('product.updated re-reads that product at once; the customer summary event then moves their features', async () => {
    const reader = seedMultiReader(h.stripe, { userId: 'cat-evt', nowSeconds: sec(), subscriptions: [{ price: c.prices.puzzles }] });
    await h.syncCustomer(reader.customer.id);
    assert.equal((await h.entitlement({ customer: reader.customer.id, feature: 'crosswords' })).body.reason, 'not_in_plan');

    const crosswords = h.stripe.putEntitlementFeature(entitlementFeatureFixture({ lookup_key: 'crosswords' }));
    h.stripe.attachFeature(c.products.puzzles.id, crosswords);
    h.stripe.resetRequests();
    assert.equal((await h.deliver(h.stripe.makeEvent('product.updated', { ...c.products.puzzles }))).status, 200);
    await h.settle();
    assert.equal(h.stripe.count(featureReads), 1);
    assert.equal(h.stripe.count((r) => r.path.startsWith('/v1/customers/')), 0, 'a product event refreshes no customer by itself');

    h.stripe.resetRequests();
    const summary = activeEntitlementSummaryFixture(reader.customer.id, [c.features.puzzles, crosswords]);
    assert.equal((await h.deliver(h.stripe.makeEvent('entitlements.active_entitlement_summary.updated', summary))).status, 200);
    await h.settle();
    assert.equal(h.stripe.count(featureReads), 0, 'the product was read less than a minute ago');
    const answer = await h.entitlement({ customer: reader.customer.id, feature: 'crosswords' });
    assert.equal(answer.body.entitled, true);
    assert.deepEqual(answer.body.features.map((f: { feature: string }) => f.feature), ['crosswords', 'puzzles']);
  });

  test('product.deleted: the product grants nothing any more', async () => {
    const cooking = h.stripe.putProduct({ ...c.products.cooking });
    const reader = seedMultiReader(h.stripe, { userId: 'cat-del', nowSeconds: sec(), subscriptions: [{ price: c.prices.cooking }] });
    await h.syncCustomer(reader.customer.id);
    assert.equal((await h.entitlement({ customer: reader.customer.id, feature: 'cooking' })).body.entitled, true);
    h.stripe.forget(cooking.id);
    await h.deliver(h.stripe.makeEvent('product.deleted', { ...cooking }));
    await h.settle();
    await h.syncCustomer(reader.customer.id);
    assert.equal((await h.entitlement({ customer: reader.customer.id, feature: 'cooking' })).body.reason, 'not_in_plan');
    h.stripe.putProduct(cooking);
  });

  test('a resync reads each product once, whatever the number of customers', async () => {
    h.stripe.reset();
    c = seedCatalog(h.stripe, sec(), 'rs');
    for (let i = 0; i < 40; i++) seedMultiReader(h.stripe, { userId: `rs-${i}`, nowSeconds: sec(), subscriptions: [{ price: i % 2 ? c.prices.news : c.prices.bundle }] });
    const { run } = createTestResync(h, { catalog: h.worker.catalog });
    h.stripe.resetRequests();
    const summary = await run({ fresh: true });
    assert.equal(summary.written, 40);
    assert.equal(h.stripe.count(featureReads), 2, 'news and the bundle, once each');
    assert.equal(h.stripe.count(productReads), 4);
  });
});

describe('without feature configuration', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ label: 'catalog-none', clockStart: START });
  });
  after(async () => {
    await h.close();
  });

  test('a refresh is the one Stripe read it is without features, and product events read nothing', async () => {
    const c = seedCatalog(h.stripe, Math.floor(START / 1000), 'none');
    const reader = seedMultiReader(h.stripe, { userId: 'none-1', nowSeconds: Math.floor(START / 1000), subscriptions: [{ price: c.prices.news }] });
    h.stripe.resetRequests();
    assert.equal(await h.syncCustomer(reader.customer.id), 'written');
    assert.deepEqual(h.stripe.requests.map((r) => `${r.method} ${r.route}`), ['GET GET /v1/subscriptions']);
    assert.equal((await h.deliver(h.stripe.makeEvent('product.updated', { ...c.products.news }))).status, 200);
    await h.settle();
    assert.equal(h.stripe.count(productReads), 0);
    const answer = await h.entitlement({ customer: reader.customer.id });
    assert.deepEqual([answer.body.feature, answer.body.status, answer.body.features.length], ['content', 'active', 1]);
    assert.equal((await h.store.read(reader.customer.id))!.products, undefined, 'no catalog in the snapshot');
  });
});
