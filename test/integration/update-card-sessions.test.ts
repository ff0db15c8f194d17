/**
 * The Stripe budget of an update-card link: each Billing Portal session is a Stripe call anyone holding the
 * link can cause, so a customer gets at most `limit` sessions per window, a link reused meanwhile goes to
 * the same session while it is valid, and concurrent hits share one. Against the Stripe double, which
 * counts the sessions it was asked to create.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createSilentLogger } from '../../src/logger.js';
import { createPortalSessionOpener } from '../../src/billing/portal-sessions.js';
import { createAccessRestorer } from '../../src/flows/restore-access.js';
import { createPortalSessionStore } from '../../src/store/billing-link-throttle.js';
import { createFailFastConnection, waitUntilReady } from '../../src/store/redis-connections.js';
import { PUBLISHER_NAME, SUPPORT_EMAIL, buildAppOn, createHarness, type Harness } from '../support/harness.js';
import { seedSubscriber } from '../support/card-scenarios.js';
import { assertMatchesOpenApi } from '../support/openapi.js';
import { testRedisUrl } from '../support/redis.js';
import { capturingLogger } from '../support/log-capture.js';

const START = Date.UTC(2028, 3, 15);
const MINUTE = 60_000;
const BUDGET = { limit: 2, windowMs: 10 * MINUTE, reuseMs: 1 * MINUTE };
const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

describe('update-card link: portal sessions per customer', () => {
  let h: Harness;
  const logs = capturingLogger('debug');
  const sessionsFor = (customerId: string) => h.stripe.portalSessions.filter((p) => p.session.customer === customerId);
  const linkFor = async (opts: { exp_year?: number } = {}) => {
    const sub = await seedSubscriber(h, { exp_month: 3, exp_year: opts.exp_year ?? 2028 });
    return { customerId: sub.customerId, path: pathOf(h.links!.urlFor(sub.customerId)) };
  };

  before(async () => {
    h = await createHarness({
      label: 'update-card-sessions',
      clockStart: START,
      workers: false,
      logger: logs.logger,
      cardExpiry: { portalSessions: BUDGET },
    });
  });
  after(async () => {
    h.stripe.setLatency(0);
    await h.close();
  });

  test('100 parallel hits of one link make one portal session, and every hit is sent to it', async () => {
    const { customerId, path } = await linkFor();
    h.stripe.setLatency(50); // the session takes a while to open, so the other hits arrive meanwhile
    let results;
    try {
      results = await Promise.all(Array.from({ length: 100 }, () => request(h.app).get(path)));
    } finally {
      h.stripe.setLatency(0);
    }
    const sessions = sessionsFor(customerId);
    assert.equal(sessions.length, 1, `one portal session for 100 hits (made ${sessions.length})`);
    assert.deepEqual(new Set(results.map((res) => res.status)), new Set([303]));
    assert.deepEqual(new Set(results.map((res) => res.headers.location)), new Set([sessions[0]!.session.url]));
    assert.ok(!logs.lines.join('\n').includes(sessions[0]!.session.url), 'the session URL is never logged');
  });

  test('two API processes sharing Redis still make one session for 100 parallel hits', async () => {
    const { customerId, path } = await linkFor();
    // A second API process: its own Redis connection, its own app, the same Redis and Stripe.
    const otherRedis = createFailFastConnection(testRedisUrl(), 'test-api-2');
    otherRedis.on('error', () => {});
    await waitUntilReady(otherRedis);
    try {
      const other = buildAppOn(h, {
        billing: {
          links: h.links!,
          openPortal: createPortalSessionOpener({
            portal: h.billing!,
            sessions: createPortalSessionStore({ redis: otherRedis, prefix: h.prefix, clock: h.clock, ...BUDGET }),
            pollMs: 10,
            maxPolls: 500,
          }),
          restoreAccess: createAccessRestorer({ syncCustomer: h.syncCustomer, store: h.store, recovery: h.expiry!.recovery }),
          publisherReturnUrl: undefined,
          publisherName: PUBLISHER_NAME,
          supportEmail: SUPPORT_EMAIL,
          logger: createSilentLogger(),
        },
      });
      h.stripe.setLatency(50);
      let results;
      try {
        results = await Promise.all(Array.from({ length: 100 }, (_, i) => request(i % 2 ? other : h.app).get(path)));
      } finally {
        h.stripe.setLatency(0);
      }
      const sessions = sessionsFor(customerId);
      assert.equal(sessions.length, 1, `one portal session across two processes (made ${sessions.length})`);
      assert.deepEqual(new Set(results.map((res) => res.headers.location)), new Set([sessions[0]!.session.url]));
    } finally {
      await otherRedis.quit();
    }
  });

  test('a link reused while its session is valid goes to the same session; after that, a new one opens', async () => {
    const { customerId, path } = await linkFor();
    const start = h.clock.now();
    try {
      const first = await request(h.app).get(path);
      h.clock.advance(BUDGET.reuseMs - 1000);
      const again = await request(h.app).get(path);
      // Another link for the same customer (a newer e-mail) reuses it too: the session is the customer's.
      const other = await request(h.app).get(pathOf(h.links!.urlFor(customerId)));
      assert.equal(sessionsFor(customerId).length, 1);
      assert.deepEqual([again.status, again.headers.location, other.headers.location], [303, first.headers.location, first.headers.location]);

      h.clock.advance(1000); // Stripe would expire the session now
      const fresh = await request(h.app).get(path);
      assert.equal(fresh.status, 303);
      assert.equal(sessionsFor(customerId).length, 2);
      assert.notEqual(fresh.headers.location, first.headers.location);
    } finally {
      h.clock.set(start);
    }
  });

  test('past the budget with no session to reuse: a friendly 429 page, Retry-After, and no Stripe call', async () => {
    const { customerId, path } = await linkFor();
    const start = h.clock.now();
    try {
      assert.equal((await request(h.app).get(path)).status, 303);
      h.clock.advance(BUDGET.reuseMs);
      assert.equal((await request(h.app).get(path)).status, 303);
      assert.equal(sessionsFor(customerId).length, 2);

      h.clock.advance(BUDGET.reuseMs);
      const posts = h.stripe.count({ method: 'POST', path: '/v1/billing_portal/sessions' });
      const limited = await Promise.all(Array.from({ length: 20 }, () => request(h.app).get(path)));
      for (const res of limited) {
        assert.equal(res.status, 429);
        assert.match(res.headers['content-type'] ?? '', /text\/html/);
        assert.match(res.text, /try the link again in 8 minutes/);
        assert.match(res.text, /help@gazette\.test/);
        assert.equal(res.headers['retry-after'], String((BUDGET.windowMs - 2 * BUDGET.reuseMs) / 1000));
        assert.equal(res.headers['cache-control'], 'no-store');
      }
      assertMatchesOpenApi(limited[0]!, '/billing/update-card', 'get');
      assert.equal(h.stripe.count({ method: 'POST', path: '/v1/billing_portal/sessions' }), posts, 'no Stripe call past the budget');

      // The window slides: once the first session is ten minutes old, one more may open.
      h.clock.set(start + BUDGET.windowMs);
      assert.equal((await request(h.app).get(path)).status, 303);
      assert.equal(sessionsFor(customerId).length, 3);
      assert.equal((await request(h.app).get(path)).status, 303, 'and is reused');
      assert.equal(sessionsFor(customerId).length, 3);
    } finally {
      h.clock.set(start);
    }
  });

  test('Stripe failing to open a session shows the try-again page and lets the next hit try again', async () => {
    const { customerId, path } = await linkFor();
    h.stripe.failNext(1, { status: 500, match: { method: 'POST', path: '/v1/billing_portal/sessions' } });
    const failed = await request(h.app).get(path);
    assert.equal(failed.status, 503);
    assert.match(failed.text, /try again/i);
    const retried = await request(h.app).get(path);
    assert.equal(retried.status, 303);
    assert.equal(sessionsFor(customerId).length, 1);
    assert.equal(retried.headers.location, sessionsFor(customerId)[0]!.session.url);
  });
});
