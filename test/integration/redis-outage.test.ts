import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createHarness, API_TOKEN, type Harness } from '../support/harness.js';
import { hasRedisServerBinary, startDisposableRedis, waitFor, type DisposableRedis } from '../support/redis.js';
import { customerFixture } from '../fixtures/stripe-objects.js';

const skip = hasRedisServerBinary() ? false : 'needs a redis-server binary to stop and start';

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

  test('a webhook gets 503 within about two seconds, so Stripe retries', async () => {
    const event = h.stripe.makeEvent('customer.updated', customerFixture());
    const started = performance.now();
    const res = await h.deliver(event);
    const elapsed = performance.now() - started;
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'unavailable');
    assert.ok(elapsed < 2500, `answered in ${Math.round(elapsed)} ms`);
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

  test('once Redis is back, the same delivery is accepted', async () => {
    await redis.restart();
    await waitFor(() => h.apiRedis.status === 'ready', { timeoutMs: 10_000, message: 'reconnect' });
    const event = h.stripe.makeEvent('customer.updated', customerFixture());
    assert.equal((await h.deliver(event)).status, 200);
    assert.ok(await h.queues.stripeEvents.getJob(event.id));
  });
});
