import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import request from 'supertest';
import { createHarness, API_TOKEN, WEBHOOK_SECRET, type Harness } from '../support/harness.js';
import { hasRedisServerBinary, startDisposableRedis, waitFor, type DisposableRedis } from '../support/redis.js';
import { customerFixture } from '../fixtures/stripe-objects.js';

const skip = hasRedisServerBinary() ? false : 'needs a redis-server binary to stop and start';

interface WatchedClaim {
  settled: boolean;
  error?: Error;
}

/** Records each ledger claim the webhook makes and how it ended (the real claim still runs). */
function watchClaims(h: Harness): WatchedClaim[] {
  const claims: WatchedClaim[] = [];
  const claim = h.ledger.claim.bind(h.ledger);
  h.ledger.claim = (eventId, receivedAt) => {
    const watched: WatchedClaim = { settled: false };
    claims.push(watched);
    return claim(eventId, receivedAt).then(
      (state) => {
        watched.settled = true;
        return state;
      },
      (err: Error) => {
        watched.settled = true;
        watched.error = err;
        throw err;
      },
    );
  };
  return claims;
}

/**
 * Delivers through the app, noting at the instant the answer is written whether every claim had settled
 * yet: an answer written while a claim still waits on Redis came from the request's own deadline.
 */
async function deliverNoting(h: Harness, event: { id: string }, claims: WatchedClaim[]) {
  let claimsSettledAtAnswer: boolean | undefined;
  const app = (req: IncomingMessage, res: ServerResponse) => {
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.end = ((...args: unknown[]) => {
      claimsSettledAtAnswer ??= claims.every((c) => c.settled);
      return end(...args);
    }) as ServerResponse['end'];
    h.app(req, res);
  };
  const { payload, header } = h.stripe.sign(event as never, WEBHOOK_SECRET, { timestamp: Math.floor(h.clock.now() / 1000) });
  const res = await request(app).post('/webhooks/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', header).send(payload);
  return { res, claimsSettledAtAnswer };
}

async function queuedEventIds(h: Harness): Promise<string[]> {
  return (await h.queues.stripeEvents.getJobs(['waiting', 'prioritized', 'delayed', 'active'])).map((job) => job.id!);
}

describe('when Redis is unreachable', { skip }, () => {
  let redis: DisposableRedis;
  let h: Harness;

  before(async () => {
    redis = await startDisposableRedis();
    h = await createHarness({ label: 'outage', workers: false, redisUrl: redis.url });
    await redis.stop();
    await waitFor(() => h.apiRedis.status !== 'ready', { message: 'the API connection notices' });
  });
  after(async () => {
    await h.close();
    await redis.stop();
  });

  test('a webhook gets 503 without waiting on a timeout, so Stripe retries', async () => {
    const claims = watchClaims(h);
    const event = h.stripe.makeEvent('customer.updated', customerFixture());
    const { res } = await deliverNoting(h, event, claims);
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'unavailable');
    // The fail-fast connection refuses the claim at once instead of queueing it for a reconnect.
    assert.equal(claims.length, 1);
    assert.match(claims[0]!.error?.message ?? '', /enableOfflineQueue/);
  });

  test('an entitlement check gets 503, not a wrong answer', async () => {
    const res = await request(h.app).get('/v1/entitlements?customer=cus_outage').set('Authorization', `Bearer ${API_TOKEN}`);
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'unavailable');
  });

  test('readiness fails while liveness holds', async () => {
    assert.equal((await request(h.app).get('/readyz')).status, 503);
    assert.equal((await request(h.app).get('/healthz')).status, 200);
  });

  test('a delivery refused while Redis is down is accepted, and enqueued once, when Stripe retries it after Redis is back', async () => {
    // On its own: Redis is down when it starts, whatever ran before.
    await redis.stop();
    await waitFor(() => h.apiRedis.status !== 'ready', { message: 'the API connection notices' });
    const event = h.stripe.makeEvent('customer.updated', customerFixture());
    const refused = await h.deliver(event);
    assert.equal(refused.status, 503);

    await redis.restart();
    await waitFor(() => h.apiRedis.status === 'ready', { timeoutMs: 10_000, message: 'reconnect' });
    const retried = await h.deliver(event);
    assert.equal(retried.status, 200);
    assert.deepEqual(retried.body, { received: true }, 'the retry is taken as new, not as a duplicate');
    assert.ok(await h.queues.stripeEvents.getJob(event.id));
    assert.equal((await h.deliver(event)).body.duplicate, true, 'a further redelivery is a duplicate');
  });
});

describe('when Redis hangs with its connections open (SIGSTOP)', { skip }, () => {
  let redis: DisposableRedis;
  let h: Harness;

  before(async () => {
    redis = await startDisposableRedis();
    h = await createHarness({ label: 'hung', workers: false, redisUrl: redis.url });
  });
  after(async () => {
    redis.resume();
    await h.close();
    await redis.stop();
  });

  test('a webhook gets its 503 from one deadline, and the redelivery after SIGCONT is enqueued once', async () => {
    const claims = watchClaims(h);
    const event = h.stripe.makeEvent('customer.updated', customerFixture());

    redis.pause();
    const hung = await deliverNoting(h, event, claims);
    assert.equal(hung.res.status, 503);
    assert.equal(hung.res.body.error.code, 'unavailable');
    assert.equal(hung.claimsSettledAtAnswer, false, 'answered while the claim still waited on Redis');

    redis.resume();
    // The first delivery's work ends off the request (its commands answer or time out); then Stripe retries.
    await waitFor(() => claims[0]!.settled, { message: 'the first claim to end' });
    const retried = await h.deliver(event);
    assert.equal(retried.status, 200);
    assert.deepEqual(await queuedEventIds(h), [event.id]);

    const again = await h.deliver(event);
    assert.deepEqual(again.body, { received: true, duplicate: true });
    assert.deepEqual(await queuedEventIds(h), [event.id]);
  });
});
