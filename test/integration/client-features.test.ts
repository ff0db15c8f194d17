/**
 * subgate/client's feature option against the real service: `check(lookup, { feature })` and
 * `requireEntitlement({ feature })` send `feature=`, cache per feature, and a change of one feature
 * drops exactly the answers it touches (that feature's and the feature-less one, whose features[] lists it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { API_TOKEN, createHarness, type Harness } from '../support/harness.js';
import { accessFeaturesFor, seedCatalog, seedMultiReader, type Catalog } from '../support/catalog.js';
import { waitFor } from '../support/redis.js';
import { createEntitlementClient, type EntitlementChangeEvent, type EntitlementClient } from '@subgate/client';
import { requireEntitlement } from '@subgate/client/express';

const START = Date.UTC(2026, 10, 2, 12, 0, 0);
const IDS = {
  products: { news: { id: 'prod_cfNews' }, puzzles: { id: 'prod_cfPuzzles' }, cooking: { id: 'prod_cfCooking' }, bundle: { id: 'prod_cfBundle' } },
  prices: { news: { id: 'price_cfNews' }, puzzles: { id: 'price_cfPuzzles' }, cooking: { id: 'price_cfCooking' }, bundle: { id: 'price_cfBundle' } },
} as unknown as Catalog;

describe('subgate/client per feature', () => {
  let h: Harness;
  let c: Catalog;
  let server: Server;
  let baseUrl: string;
  const clients: EntitlementClient[] = [];
  const calls: string[] = [];
  const countingFetch: typeof fetch = async (input, init) => {
    const url = String(input);
    if (url.includes('/v1/entitlements?')) calls.push(new URL(url).search);
    return fetch(input, init);
  };
  const sec = () => Math.floor(h.clock.now() / 1000);

  before(async () => {
    h = await createHarness({ label: 'client-features', clockStart: START, eventsHeartbeatMs: 100, env: { ACCESS_FEATURES_SOURCE: 'config', ACCESS_FEATURES: accessFeaturesFor(IDS) } });
    c = seedCatalog(h.stripe, sec(), 'cf');
    server = createServer(h.app);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await Promise.all(clients.map((x) => x.close()));
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await h.close();
  });

  test('answers are cached per feature, and a change of one feature drops that feature\'s and the feature-less answer only', async () => {
    const r = seedMultiReader(h.stripe, { userId: 'cf-1', nowSeconds: sec(), subscriptions: [{ price: c.prices.news }, { price: c.prices.puzzles }] });
    await h.syncCustomer(r.customer.id);
    const changes: EntitlementChangeEvent[] = [];
    const client = createEntitlementClient({ baseUrl, token: API_TOKEN, fetch: countingFetch, cache: { ttlMs: 10 * 60_000 }, onChange: (ch) => changes.push(ch) });
    clients.push(client);
    await client.whenLive();
    calls.length = 0;

    const news = await client.checkUser('cf-1', { feature: 'news' });
    const puzzles = await client.check({ user: 'cf-1' }, { feature: 'puzzles' });
    const plain = await client.checkUser('cf-1');
    assert.deepEqual([news.entitled, news.source, 'feature' in news ? news.feature : null], [true, 'network', 'news']);
    assert.deepEqual([puzzles.entitled, 'feature' in puzzles ? puzzles.feature : null], [true, 'puzzles']);
    assert.deepEqual(['feature' in plain ? plain.feature : null, 'reason' in plain ? plain.reason : null], ['content', 'not_in_plan']);
    assert.deepEqual(calls, ['?user=cf-1&feature=news', '?user=cf-1&feature=puzzles', '?user=cf-1']);
    for (const feature of ['news', 'puzzles', undefined]) assert.equal((await client.checkUser('cf-1', feature ? { feature } : {})).source, 'cache');

    // The News card is replaced by an expired one: only News changes.
    const expired = h.stripe.putPaymentMethod({ ...h.stripe.getPaymentMethod(r.held[0]!.card.id)!, id: 'pm_cf_expired', card: { ...h.stripe.getPaymentMethod(r.held[0]!.card.id)!.card, exp_month: 9, exp_year: 2026 } });
    h.stripe.putSubscription({ ...h.stripe.getSubscription(r.held[0]!.subscription.id)!, default_payment_method: expired.id });
    await h.syncCustomer(r.customer.id);
    await waitFor(() => changes.some((ch) => ch.customer === r.customer.id && ch.feature === 'news'), { message: 'the news change arrives' });
    assert.ok(!changes.some((ch) => ch.customer === r.customer.id && ch.feature === 'puzzles'), 'no puzzles change');
    calls.length = 0;
    const newsAfter = await client.checkUser('cf-1', { feature: 'news' });
    assert.deepEqual([newsAfter.source, newsAfter.entitled, newsAfter.status], ['network', false, 'card_expired']);
    assert.equal((await client.checkUser('cf-1', { feature: 'puzzles' })).source, 'cache');
    assert.equal((await client.checkUser('cf-1')).source, 'network', 'the feature-less answer lists news in features[]');
    assert.deepEqual(calls, ['?user=cf-1&feature=news', '?user=cf-1']);
  });

  test('requireEntitlement({ feature }) asks about that feature', async () => {
    const r = seedMultiReader(h.stripe, { userId: 'cf-2', nowSeconds: sec(), subscriptions: [{ price: c.prices.puzzles }] });
    await h.syncCustomer(r.customer.id);
    const client = createEntitlementClient({ baseUrl, token: API_TOKEN, live: false });
    clients.push(client);
    const app = express();
    for (const feature of ['news', 'puzzles']) {
      app.get(`/${feature}`, requireEntitlement({ client, feature, getUserId: () => 'cf-2' }), (req, res) => {
        res.json({ entitled: req.entitlement?.entitled, status: req.entitlement?.status });
      });
    }
    app.get('/plain', requireEntitlement({ client, getUserId: () => 'cf-2' }), (req, res) => res.json({ entitled: req.entitlement?.entitled }));
    assert.deepEqual((await request(app).get('/news')).body, { entitled: false, status: 'none' });
    assert.deepEqual((await request(app).get('/puzzles')).body, { entitled: true, status: 'active' });
    assert.deepEqual((await request(app).get('/plain')).body, { entitled: false });
  });
});
