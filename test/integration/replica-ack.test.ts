/**
 * REDIS_ACK_REPLICAS against a real primary and replica: a webhook's 2xx comes only once the replica holds
 * the event, and a replica that does not answer in time makes it a 503 (Stripe retries), never a 2xx the
 * primary's loss could take back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { createTestRedis, hasRedisServerBinary, startDisposableRedis, waitFor, type DisposableRedis } from '../support/redis.js';
import { customerFixture } from '../fixtures/stripe-objects.js';
import type { Redis } from 'ioredis';

const skip = hasRedisServerBinary() ? false : 'needs a redis-server binary';

describe('REDIS_ACK_REPLICAS=1 on a primary with one replica', { skip, timeout: 60_000 }, () => {
  let primary: DisposableRedis;
  let replica: DisposableRedis;
  let replicaClient: Redis;
  let h: Harness;

  before(async () => {
    primary = await startDisposableRedis();
    replica = await startDisposableRedis();
    replicaClient = createTestRedis({ url: replica.url });
    await replicaClient.replicaof('127.0.0.1', String(primary.port));
    await waitFor(async () => /master_link_status:up/.test(await replicaClient.info('replication')), { timeoutMs: 15_000, message: 'replica in sync' });
    h = await createHarness({ label: 'ack', workers: false, redisUrl: primary.url, env: { REDIS_ACK_REPLICAS: '1', REDIS_ACK_TIMEOUT_MS: '300' } });
  });
  after(async () => {
    replica.resume();
    await h?.close();
    replicaClient?.disconnect();
    await Promise.allSettled([primary.stop(), replica.stop()]);
  });

  test('a 2xx means the replica holds the ledger entry and the job', async () => {
    const event = h.stripe.makeEvent('customer.updated', customerFixture());
    const res = await h.deliver(event);
    assert.equal(res.status, 200);
    // Read from the replica at once: no waiting for replication after the answer.
    const replicaLedger = (await replicaClient.scan('0', 'MATCH', `${h.prefix}:evt:${event.id}`, 'COUNT', 10_000))[1];
    assert.equal(replicaLedger.length, 1, 'the ledger entry is on the replica when the 2xx is sent');
    assert.match((await replicaClient.get(replicaLedger[0]!)) ?? '', /^q/, 'confirmed as enqueued there');
  });

  test('a replica that does not acknowledge in time: 503, and the retry once it is back gets its 2xx', async () => {
    const event = h.stripe.makeEvent('customer.updated', customerFixture());
    replica.pause();
    const refused = await h.deliver(event);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'unavailable');
    replica.resume();
    await waitFor(async () => (await h.deliver(event)).status === 200, { timeoutMs: 15_000, intervalMs: 200, message: 'accepted once the replica acknowledges' });
    assert.ok(await h.queues.stripeEvents.getJob(event.id), 'enqueued once');
  });
});
