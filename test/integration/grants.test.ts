import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { ADMIN_TOKEN, createOpsHarness, type OpsHarness } from '../support/ops-harness.js';
import { accessFeaturesFor, seedCatalog, seedMultiReader, type Catalog } from '../support/catalog.js';
import { createTestResync } from '../support/resync.js';
import { waitFor } from '../support/redis.js';
import { JOB } from '../../src/queues.js';

const START = Date.UTC(2026, 10, 2, 12, 0, 0);
const DAY = 86_400_000;

/** The ids seedCatalog makes with tag 'gr'. */
const IDS = {
  products: { news: { id: 'prod_grNews' }, puzzles: { id: 'prod_grPuzzles' }, cooking: { id: 'prod_grCooking' }, bundle: { id: 'prod_grBundle' } },
  prices: { news: { id: 'price_grNews' }, puzzles: { id: 'price_grPuzzles' }, cooking: { id: 'price_grCooking' }, bundle: { id: 'price_grBundle' } },
} as unknown as Catalog;

describe('manual grants (/admin/grants)', () => {
  let o: OpsHarness;
  let c: Catalog;
  const sec = () => Math.floor(o.h.clock.now() / 1000);
  const iso = (ms: number) => new Date(ms).toISOString();
  const post = (body: unknown, token: string | null = ADMIN_TOKEN) => {
    const req = request(o.app).post('/admin/grants');
    return (token ? req.set('Authorization', `Bearer ${token}`) : req).send(body as object);
  };
  const del = (id: string, token: string | null = ADMIN_TOKEN) => {
    const req = request(o.app).delete(`/admin/grants/${id}`);
    return token ? req.set('Authorization', `Bearer ${token}`) : req;
  };
  const changesOf = async (customer: string, feature: string) =>
    (await o.h.expiry.feed.readChanges()).filter((ch) => ch.customer === customer && ch.feature === feature).map((ch) => ch.next.status);

  before(async () => {
    o = await createOpsHarness({ label: 'grants', clockStart: START, opsWorkers: false, env: { ACCESS_FEATURES_SOURCE: 'config', ACCESS_FEATURES: accessFeaturesFor(IDS) } });
    c = seedCatalog(o.h.stripe, sec(), 'gr');
  });
  after(async () => {
    await o.close();
  });

  async function puzzlesReader(userId: string) {
    const r = seedMultiReader(o.h.stripe, { userId, nowSeconds: sec(), subscriptions: [{ price: c.prices.puzzles }] });
    await o.h.syncCustomer(r.customer.id);
    return r.customer.id;
  }

  test('a grant opens one feature until its instant, is listed, is on the feed, and its revocation closes it', async () => {
    const customer = await puzzlesReader('granted-1');
    const until = o.h.clock.now() + 3 * DAY;
    const res = await post({ customer, feature: 'news', until: iso(until), reason: 'Delivery complaint #4411', by: 'desk-ana' });
    assert.equal(res.status, 201);
    assert.match(res.body.id, /^gr_[A-Za-z0-9]{24}$/);
    assert.deepEqual({ ...res.body, id: undefined }, {
      id: undefined, customer, user: null, feature: 'news', until: iso(until), reason: 'Delivery complaint #4411', created_by: 'desk-ana', created_at: iso(o.h.clock.now()), active: true,
    });
    const news = await o.h.entitlement({ customer, feature: 'news' });
    assert.deepEqual([news.body.entitled, news.body.status, news.body.reason, news.body.grace_until], [true, 'granted', 'manual_grant', iso(until)]);
    // By the customer's user too: the site asks by user.
    assert.equal((await o.h.entitlement({ user: 'granted-1', feature: 'news' })).body.status, 'granted');
    // Puzzles is still the subscription's answer.
    assert.equal((await o.h.entitlement({ customer, feature: 'puzzles' })).body.status, 'active');
    assert.deepEqual(await changesOf(customer, 'news'), ['granted']);

    const listed = await request(o.app).get('/admin/grants').query({ customer }).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.grants.map((g: { id: string; active: boolean }) => [g.id, g.active]), [[res.body.id, true]]);

    const byUser = await request(o.app).get('/admin/grants').query({ user: 'granted-1' }).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    assert.deepEqual(byUser.body.grants.map((g: { id: string }) => g.id), [res.body.id]);

    assert.equal((await del(res.body.id)).status, 204);
    assert.equal((await o.h.entitlement({ customer, feature: 'news' })).body.reason, 'not_in_plan');
    assert.equal((await o.h.entitlement({ user: 'granted-1', feature: 'news' })).body.reason, 'not_in_plan');
    assert.deepEqual(await changesOf(customer, 'news'), ['granted', 'none']);
    assert.equal((await del(res.body.id)).status, 404);
    // Support reading the reader's story sees the grant, who made it and why, and its revocation.
    const told = (await o.h.api.timeline.read(customer)).filter((e) => e.kind === 'grant').reverse();
    assert.deepEqual(told.map((e) => e.text), [`Grant of news until ${iso(until)}: Delivery complaint #4411`, 'Grant of news revoked']);
    assert.deepEqual([told[0]!.fields.grant, told[0]!.fields.by], [res.body.id, 'desk-ana']);
  });

  test('a grant\'s end is published at its instant by its delayed job, with nothing else happening', async () => {
    const customer = await puzzlesReader('granted-2');
    const until = o.h.clock.now() + 1500;
    assert.equal((await post({ customer, feature: 'cooking', until: iso(until), reason: 'Trial of Cooking' })).status, 201);
    assert.deepEqual(await changesOf(customer, 'cooking'), ['granted']);
    const job = await o.h.queues.cardExpiry.getJob(`grant-end-${(await o.h.api.grants.forCustomer(customer))[0]!.id}`);
    assert.equal(job?.name, JOB.grantEnd);
    o.h.clock.advance(1500);
    await waitFor(async () => (await changesOf(customer, 'cooking')).length === 2, { message: 'the grant end published', timeoutMs: 10_000 });
    assert.deepEqual(await changesOf(customer, 'cooking'), ['granted', 'none']);
    assert.equal((await o.h.entitlement({ customer, feature: 'cooking' })).body.reason, 'not_in_plan');
  });

  test('a user\'s grant counts on answers by that user, and the resync keeps grants', async () => {
    const customer = await puzzlesReader('granted-3');
    const res = await post({ user: 'granted-3', feature: 'news', until: iso(o.h.clock.now() + DAY), reason: 'Goodwill' });
    assert.equal(res.status, 201);
    assert.equal((await o.h.entitlement({ user: 'granted-3', feature: 'news' })).body.status, 'granted');
    assert.equal((await o.h.entitlement({ customer, feature: 'news' })).body.status, 'granted', 'by the user\'s customer too');
    assert.deepEqual(await changesOf(customer, 'news'), ['granted']);
    const { run } = createTestResync(o.h, { catalog: o.h.worker.catalog });
    await run({ fresh: true });
    assert.equal((await o.h.entitlement({ user: 'granted-3', feature: 'news' })).body.status, 'granted');
    // A user nobody has seen yet can be given access too.
    assert.equal((await post({ user: 'newcomer', feature: 'news', until: iso(o.h.clock.now() + DAY), reason: 'Press pass' })).status, 201);
    const newcomer = await o.h.entitlement({ user: 'newcomer', feature: 'news' });
    assert.deepEqual([newcomer.body.entitled, newcomer.body.status, newcomer.body.customer], [true, 'granted', null]);
  });

  test('a grant does not hide a card problem: the expired card stays on the answer, and its notice is still queued', async () => {
    const r = seedMultiReader(o.h.stripe, { userId: 'granted-4', nowSeconds: sec(), subscriptions: [{ price: c.prices.news, exp_month: 11, exp_year: 2026 }] });
    await o.h.syncCustomer(r.customer.id);
    await post({ customer: r.customer.id, feature: 'news', until: iso(o.h.clock.now() + 60 * DAY), reason: 'Card replacement pending' });
    o.h.clock.set(Date.UTC(2026, 11, 1, 0, 0, 1));
    const card = r.held[0]!.card;
    const flagged = await o.h.expiry.cardExpiry.runExpiryCheck({ customerId: r.customer.id, cardId: card.id, exp_month: 11, exp_year: 2026, windowDays: null });
    assert.equal(flagged.outcome, 'flagged');
    const news = await o.h.entitlement({ customer: r.customer.id, feature: 'news' });
    assert.deepEqual([news.body.entitled, news.body.status, news.body.card.expired], [true, 'granted', true]);
    const notices = await o.h.queues.notices.getJobs(['waiting', 'active', 'completed', 'delayed', 'prioritized', 'failed']);
    assert.ok(notices.some((j) => j.data.kind === 'card_expired' && j.data.customerId === r.customer.id), 'card_expired notice queued');
    o.h.clock.set(START);
  });

  test('bad input: no or wrong admin token, unknown or malformed feature, past or malformed until, malformed ids, oversized body', async () => {
    const customer = await puzzlesReader('granted-bad');
    const good = { customer, feature: 'news', until: iso(o.h.clock.now() + DAY), reason: 'ok' };
    assert.equal((await post(good, null)).status, 401);
    assert.equal((await post(good, `${ADMIN_TOKEN}-not`)).status, 401);
    assert.equal((await del('gr_AAAAAAAAAAAAAAAAAAAAAAAA', null)).status, 401);
    const cases: Array<[unknown, string]> = [
      [{ ...good, feature: 'sports' }, 'unknown_feature'],
      [{ ...good, feature: 'News!' }, 'invalid_feature'],
      [{ ...good, until: iso(o.h.clock.now() - 1000) }, 'invalid_until'],
      [{ ...good, until: '2026-13-45' }, 'invalid_until'],
      [{ ...good, until: 1_900_000_000 }, 'invalid_until'],
      [{ ...good, until: iso(o.h.clock.now() + 400 * DAY) }, 'invalid_until'],
      [{ ...good, reason: '' }, 'invalid_reason'],
      [{ ...good, customer: 'cus_bad id' }, 'invalid_customer'],
      [{ ...good, user: 'u1' }, 'invalid_subject'],
      [{ feature: 'news', until: good.until, reason: 'x' }, 'invalid_subject'],
      [[good], 'invalid_body'],
    ];
    for (const [body, code] of cases) {
      const res = await post(body);
      assert.deepEqual([res.status, res.body.error?.code], [400, code], JSON.stringify(body));
    }
    const huge = await post({ ...good, reason: 'x'.repeat(5000) });
    assert.equal(huge.status, 413);
    const notJson = await request(o.app).post('/admin/grants').set('Authorization', `Bearer ${ADMIN_TOKEN}`).set('Content-Type', 'application/json').send('{"customer":');
    assert.equal(notJson.status, 400);
    assert.equal((await del('not-a-grant')).body.error.code, 'invalid_grant');
    assert.equal((await del('gr_AAAAAAAAAAAAAAAAAAAAAAAA')).status, 404);
    const list = await request(o.app).get('/admin/grants').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    assert.equal(list.status, 400);
    // Nothing of that made a grant.
    assert.deepEqual(await o.h.api.grants.forCustomer(customer), []);
  });
});
