/**
 * Entitlement token scopes through the real app: `check` answers without links (and signs none), `links`
 * answers carry update_card_url, `feed` follows the change feed; what a token may not do is a 403. A bare
 * token still does everything. The token's name (never the token) is in the access log and the metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { API_TOKEN, createHarness, type Harness } from '../support/harness.js';
import { seedSubscriber, settleExpiry } from '../support/card-scenarios.js';
import { assertMatchesOpenApi } from '../support/openapi.js';
import { waitFor } from '../support/redis.js';
import { capturingLogger } from '../support/log-capture.js';
import { createMetrics } from '../../src/metrics/metrics.js';

const START = Date.UTC(2028, 3, 15); // a card that expired in March 2028 is expired now
const CHECK = 'site-check-token-0000001';
const LINKS = 'mailer-links-token-000001';
const FEED = 'cache-feed-token-00000001';
const CHECK_FEED = 'site-check-feed-token-001';

describe('entitlement token scopes', () => {
  let h: Harness;
  let server: Server;
  let baseUrl: string;
  const logs = capturingLogger();
  const metrics = createMetrics({ clock: { now: () => START } });
  const minted: string[] = [];
  let expiredReader: string;

  const ask = (token: string, query: Record<string, string>) =>
    request(h.app).get('/v1/entitlements').query(query).set('Authorization', `Bearer ${token}`);
  const feed = (token: string) => fetch(`${baseUrl}/v1/entitlements/events`, { headers: { Authorization: `Bearer ${token}` } });
  /** A feed request expected to be refused, read whole; a stream that opens instead is closed and reported. */
  const feedRefusal = async (token: string) => {
    const res = await feed(token);
    if (res.status === 200) {
      await res.body?.cancel();
      assert.fail('the feed was served');
    }
    return { status: res.status, headers: { 'content-type': res.headers.get('content-type') }, body: await res.json() } as unknown as request.Response;
  };

  before(async () => {
    h = await createHarness({
      label: 'token-scopes',
      clockStart: START,
      cardExpiry: {},
      logger: logs.logger,
      app: {
        metrics,
        entitlementTokens: [
          API_TOKEN, // bare: every scope, named token-1
          { name: 'site', scopes: ['check'], token: CHECK },
          { name: 'mailer', scopes: ['links'], token: LINKS },
          { name: 'cache', scopes: ['feed'], token: FEED },
          { name: 'site-live', scopes: ['check', 'feed'], token: CHECK_FEED },
        ],
      },
    });
    // Count every link signed for an answer (the entitlement route reaches links through this object).
    const urlFor = h.links!.urlFor;
    h.links!.urlFor = (customerId) => {
      minted.push(customerId);
      return urlFor(customerId);
    };
    const reader = await seedSubscriber(h, { exp_month: 3, exp_year: 2028, user: 'scoped-reader' });
    await settleExpiry(h);
    expiredReader = reader.customerId;
    server = createServer(h.app);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  test('a check-only token gets the answer with update_card_url null, even for a card_expired reader, and no link is signed', async () => {
    minted.length = 0;
    for (const query of [{ customer: expiredReader }, { user: 'scoped-reader' }] as Record<string, string>[]) {
      const res = await ask(CHECK, query);
      assert.equal(res.status, 200);
      assert.deepEqual([res.body.customer, res.body.status, res.body.entitled], [expiredReader, 'card_expired', false]);
      assert.equal(res.body.update_card_url, null);
      assertMatchesOpenApi(res, '/v1/entitlements', 'get');
    }
    assert.deepEqual(minted, [], 'no link was signed for a check-only token');
  });

  test('a links token gets the update-card URL for the same reader', async () => {
    minted.length = 0;
    const res = await ask(LINKS, { customer: expiredReader });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'card_expired');
    assert.match(String(res.body.update_card_url), /^http:\/\/subgate\.test\/billing\/update-card\?token=/);
    assert.equal(h.links!.verify(new URL(res.body.update_card_url).searchParams.get('token')).ok, true);
    assert.deepEqual(minted, [expiredReader]);
  });

  test('a feed-only token gets a 403 on /v1/entitlements, on the fast path and through Express alike', async () => {
    minted.length = 0;
    const fast = await ask(FEED, { customer: expiredReader });
    const viaExpress = await request(h.app.express).get('/v1/entitlements').query({ customer: expiredReader }).set('Authorization', `Bearer ${FEED}`);
    for (const res of [fast, viaExpress]) {
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'insufficient_scope');
      assert.match(res.body.error.message, /check or links scope/);
      assert.equal(res.headers['www-authenticate'], undefined, 'a 403 is not a request to authenticate');
    }
    assertMatchesOpenApi(fast, '/v1/entitlements', 'get');
    assert.deepEqual(minted, []);
    // The token is known, so a bad query still gets the 403 first (the scope decides before the query is read).
    assert.equal((await ask(FEED, { customer: 'nonsense' })).status, 403);
  });

  test('a token without feed gets a 403 on the change feed; a token with it is served', async () => {
    for (const token of [CHECK, LINKS]) {
      const res = await feedRefusal(token);
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'insufficient_scope');
      assert.match(res.body.error.message, /feed scope/);
      assertMatchesOpenApi(res, '/v1/entitlements/events', 'get');
    }
    for (const token of [FEED, CHECK_FEED]) {
      const res = await feed(token);
      assert.equal(res.status, 200, 'feed token is served');
      assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
      await res.body?.cancel();
    }
  });

  test('a bare token still does everything: answers with links, and the feed', async () => {
    const answer = await ask(API_TOKEN, { customer: expiredReader });
    assert.equal(answer.status, 200);
    assert.match(String(answer.body.update_card_url), /\/billing\/update-card\?token=/);
    const stream = await feed(API_TOKEN);
    assert.equal(stream.status, 200);
    await stream.body?.cancel();
  });

  test('a check+feed token may ask (without links) and follow the feed', async () => {
    const answer = await ask(CHECK_FEED, { customer: expiredReader });
    assert.deepEqual([answer.status, answer.body.update_card_url], [200, null]);
    const stream = await feed(CHECK_FEED);
    assert.equal(stream.status, 200);
    await stream.body?.cancel();
  });

  test('answers are counted by token name and status; no token appears in the metrics', async () => {
    const before = await metrics.registry.getSingleMetricAsString('subgate_entitlement_answers_total');
    const count = (text: string, labels: string) => Number(new RegExp(`^subgate_entitlement_answers_total\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    await ask(CHECK, { customer: expiredReader });
    await ask(CHECK, { customer: 'cus_nobody_here' });
    await ask(LINKS, { customer: expiredReader });
    const after = await metrics.registry.getSingleMetricAsString('subgate_entitlement_answers_total');
    assert.equal(count(after, 'token="site",status="card_expired"') - count(before, 'token="site",status="card_expired"'), 1);
    assert.equal(count(after, 'token="site",status="none"') - count(before, 'token="site",status="none"'), 1);
    assert.equal(count(after, 'token="mailer",status="card_expired"') - count(before, 'token="mailer",status="card_expired"'), 1);
    // Each token's series exist from its first answer, so rate() over them starts at zero, not at a gap.
    assert.match(after, /^subgate_entitlement_answers_total\{token="mailer",status="active"\} 0$/m);
    const text = await metrics.registry.metrics();
    for (const secret of [API_TOKEN, CHECK, LINKS, FEED, CHECK_FEED]) assert.ok(!text.includes(secret), 'no token in the metrics');
  });

  test("the feed's access-log line names the token, never the token itself", async () => {
    logs.lines.length = 0;
    assert.equal((await feedRefusal(LINKS)).status, 403);
    const stream = await feed(FEED);
    await stream.body?.cancel();
    const requests = () =>
      logs.lines.map((line) => JSON.parse(line) as { msg: string; path?: string; status?: number; tokenName?: string }).filter((l) => l.msg === 'request' && l.path === '/v1/entitlements/events');
    // The open stream's line is written when the stream ends (here: when the client hangs up).
    await waitFor(() => requests().length === 2, { message: 'both access-log lines' });
    assert.deepEqual(
      requests().map((l) => [l.status, l.tokenName]),
      [
        [403, 'mailer'],
        [200, 'cache'],
      ],
    );
    const all = logs.lines.join('\n');
    for (const secret of [API_TOKEN, CHECK, LINKS, FEED, CHECK_FEED]) assert.ok(!all.includes(secret), 'no token in the log');
  });
});
