/**
 * Worker figures: events applied per second from a backlog enqueued through the real producer, and how
 * many Stripe refreshes a burst of events for one customer costs. The workers run in a child process
 * (bench/servers/subgate-workers.ts); the Stripe double, pre-loaded with every customer, runs here.
 */
import type { Redis } from 'ioredis';
import { createOpsQueues, createProducers, createQueues } from '../../src/queues.js';
import { systemClock } from '../../src/runtime.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';
import { digestEvent } from '../../src/domain/event-digest.js';
import { startStripeDouble } from '../../test/support/stripe-double.js';
import { signedEventPool, type BenchCustomer } from './fixtures.js';
import { startServer } from './server-process.js';

export interface WorkerSettings {
  redis: Redis;
  redisUrl: string;
  prefix: string;
  customers: readonly BenchCustomer[];
  backlog: number;
  burst: number;
  debounceMs: number;
  concurrency: number;
  stripeRequestsPerSecond: number;
  timeoutMs: number;
  /** Write a `node --cpu-prof` profile of the worker process here. */
  cpuProfileDir?: string;
}

export interface WorkerFigures {
  backlog: number;
  enqueueMs: number;
  drainMs: number;
  eventsPerSecond: number;
  syncs: number;
  eventsFailed: number;
  syncsFailed: number;
  stripeRequests: number;
  timedOut: boolean;
  burst: number;
  burstCustomerRetrieves: number;
  burstTimedOut: boolean;
  workerPeakRss: number;
}

interface DrainReply extends Record<string, unknown> {
  timedOut: boolean;
  elapsedMs: number;
  events: number;
  eventsFailed: number;
  syncs: number;
  syncsFailed: number;
  maxRss: number;
}

export async function measureWorkers(s: WorkerSettings): Promise<WorkerFigures> {
  const stripe = await startStripeDouble();
  const queues = createQueues(s.redis, s.prefix);
  const opsQueues = createOpsQueues(s.redis, s.prefix);
  const producers = createProducers({ queues, opsQueues, clock: systemClock, debounceMs: 0 });
  try {
    for (const c of s.customers) {
      stripe.putCustomer(c.customer);
      stripe.putPaymentMethod(c.paymentMethod);
      for (const sub of c.subscriptions) stripe.putSubscription(sub);
    }
    const ids = s.customers.map((c) => c.id);
    const enqueue = async (events: StripeEventLike[]) => {
      for (let i = 0; i < events.length; i += 500) {
        await Promise.all(
          events.slice(i, i + 500).map((event) =>
            producers.stripeEvent({ digest: digestEvent(event), receivedAt: Date.now() }),
          ),
        );
      }
    };
    const parse = (pool: { payload: string }[]) => pool.map((e) => JSON.parse(e.payload) as StripeEventLike);

    const backlogEvents = parse(signedEventPool(s.backlog, ids, 'whsec_unused', 'backlog'));
    const enqueueStarted = performance.now();
    await enqueue(backlogEvents);
    const enqueueMs = performance.now() - enqueueStarted;

    const workers = await startServer('subgate-workers', {
      env: { BENCH_REDIS_URL: s.redisUrl, BENCH_PREFIX: s.prefix, STRIPE_API_BASE: stripe.url },
      ...(s.cpuProfileDir ? { cpuProfileDir: s.cpuProfileDir } : {}),
    });
    try {
      stripe.resetRequests();
      await workers.request('start', { debounceMs: s.debounceMs, concurrency: s.concurrency, stripeRequestsPerSecond: s.stripeRequestsPerSecond });
      const drained = await workers.request<DrainReply>('drain', { expectedEvents: s.backlog, timeoutMs: s.timeoutMs }, s.timeoutMs + 10_000);
      const stripeRequests = stripe.count();

      // The burst: one customer, events as fast as the producer can add them, after the backlog is done.
      const target = s.customers[0]!.id;
      stripe.resetRequests();
      await enqueue(parse(signedEventPool(s.burst, [target], 'whsec_unused', 'burst')));
      const burst = await workers.request<DrainReply>('drain', { expectedEvents: s.backlog + s.burst, timeoutMs: 30_000 }, 40_000);
      // A refresh opens with the customer's subscription list (the customer rides along, expanded).
      const burstCustomerRetrieves = stripe.count((r) => r.method === 'GET' && r.path === '/v1/subscriptions' && r.query.customer === target);

      return {
        backlog: s.backlog,
        enqueueMs,
        drainMs: drained.elapsedMs,
        eventsPerSecond: (drained.events / drained.elapsedMs) * 1000,
        syncs: drained.syncs,
        eventsFailed: drained.eventsFailed,
        syncsFailed: drained.syncsFailed,
        stripeRequests,
        timedOut: drained.timedOut,
        burst: s.burst,
        burstCustomerRetrieves,
        burstTimedOut: burst.timedOut,
        workerPeakRss: burst.maxRss,
      };
    } finally {
      await workers.stop();
    }
  } finally {
    await Promise.all([queues.close(), opsQueues.close()]);
    await stripe.close();
  }
}
