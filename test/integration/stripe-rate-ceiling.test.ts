import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { createOpsQueues, createProducers, createQueues, type OpsQueues, type Queues } from '../../src/queues.js';
import { systemClock } from '../../src/runtime.js';
import { createSubscriberStore } from '../../src/store/subscriber-store.js';
import { cleanupPrefix, createTestRedis, testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { startStripeDouble, type StripeDouble } from '../support/stripe-double.js';
import { seedReader } from '../support/readers.js';
import { maxInAnyWindow, watchStalls } from '../support/request-windows.js';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-processes.js';

const LIMIT = 25;
const CUSTOMERS = 80;

/** A seeded generator, so the faults fall the same way on every run. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe(`two worker processes refreshing a backlog with STRIPE_API_RATE_LIMIT=${LIMIT} and 30 % of Stripe's answers 429 or 500`, () => {
  let redis: Redis;
  let double: StripeDouble;
  let queues: Queues;
  let opsQueues: OpsQueues;
  let workers: WorkerProcess[] = [];
  const prefix = uniquePrefix('rate-ceiling');
  const customerIds: string[] = [];

  before(async () => {
    redis = createTestRedis();
    double = await startStripeDouble();
    queues = createQueues(redis, prefix);
    const nowSeconds = Math.floor(Date.now() / 1000);
    for (let i = 0; i < CUSTOMERS; i++) customerIds.push(seedReader(double, { nowSeconds }).customer.id);
    const random = seededRandom(9);
    const api = (r: { path: string }) => r.path.startsWith('/v1/');
    // 10 % answered 429 (no Retry-After, Stripe-Should-Retry: false); 20 % answered 500, which the SDK retries.
    double.failNext(Number.MAX_SAFE_INTEGER, { status: 429, match: (r) => api(r) && random() < 0.1 });
    double.failNext(Number.MAX_SAFE_INTEGER, { status: 500, shouldRetry: true, match: (r) => api(r) && random() < 0.222 });
    opsQueues = createOpsQueues(redis, prefix);
    const producers = createProducers({ queues, opsQueues, clock: systemClock, debounceMs: 0 });
    for (const customerId of customerIds) await producers.refresh(customerId, 'backlog', 'routine');
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all([queues.close(), opsQueues.close()]);
    await cleanupPrefix(redis, prefix);
    await Promise.all([redis.quit(), double.close()]);
  });

  test('no second of the requests Stripe received holds more than the limit, and every customer converges', async () => {
    const env = {
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      STRIPE_API_BASE: double.url,
      STRIPE_API_RATE_LIMIT: String(LIMIT),
      WORKER_CONCURRENCY: '8',
    };
    const stallWatch = watchStalls();
    workers = [startWorkerProcess(env), startWorkerProcess(env)];
    await Promise.all(workers.map((w) => w.ready));

    // One cheap command per poll: this process is also the Stripe double, whose clock the windows are read on.
    await waitFor(async () => (await queues.customerSync.getJobCounts('completed')).completed === CUSTOMERS, {
      timeoutMs: 90_000,
      intervalMs: 250,
      message: 'every refresh done',
    });
    const states = await createSubscriberStore({ redis, prefix }).readMany(customerIds);
    assert.equal(states.filter((s) => s.projection.subscriptions[0]?.status === 'active').length, CUSTOMERS);

    const received = double.requests.map((r) => r.at);
    // Windows in which this process (the double's clock) stalled are not judged: their stamps bunch.
    const stalls = stallWatch.stop();
    const busiest = maxInAnyWindow(received, 1000, stalls);
    assert.ok(busiest <= LIMIT, `${busiest} requests in one second (limit ${LIMIT}; ${stalls.length} stalls of this process left out)`);
    assert.ok(busiest > 0, 'some window was judged');
    // The faults were served, and the demand spanned several seconds' worth of the budget.
    assert.ok(double.requests.some((r) => r.status === 429));
    assert.ok(double.requests.some((r) => r.status === 500));
    assert.ok(received.length > 3 * LIMIT, `${received.length} requests`);
  });
});
