/**
 * The all-in-one figure: `npm start` (bench/servers/subgate-all-in-one.ts) with a backlog of events queued
 * for its workers and the expiry sweep queued, the entitlement check at a fixed rate beside B2, taking
 * turns. The Stripe double, holding every customer, runs in the caller's process. Returns both load
 * results, the process's event-loop delay over the turns, and how many event jobs were still queued.
 */
import type { Redis } from 'ioredis';
import { JOB, createOpsQueues, createProducers, createQueues } from '../../src/queues.js';
import { systemClock } from '../../src/runtime.js';
import { digestEvent } from '../../src/domain/event-digest.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';
import { startStripeDouble } from '../../test/support/stripe-double.js';
import { signedEventPool, type BenchCustomer } from './fixtures.js';
import { interleaved, type Contender, type LoadResult } from './load.js';
import { startServer, type ServerProcess } from './server-process.js';

export interface AllInOneFigures {
  b2: LoadResult;
  ent: LoadResult;
  loop: { p50Ms: number; p99Ms: number; maxMs: number };
  /** Jobs still queued in stripe-events and customer-sync when the turns ended. */
  left: number;
}

export async function measureAllInOne(s: {
  redis: Redis;
  prefix: string;
  env: Record<string, string>;
  customers: readonly BenchCustomer[];
  backlog: number;
  /** STRIPE_API_RATE_LIMIT of the all-in-one process (production's default is 20). */
  stripeRequestsPerSecond: number;
  /** A load spec per server, at the fixed rate (run.ts's `get(server, rate)`). */
  contender: (server: ServerProcess) => Contender;
  rounds: { segments: number; segmentS: number; warmupS: number };
  cpuProfileDir?: string;
}): Promise<AllInOneFigures> {
  const stripe = await startStripeDouble();
  const queues = createQueues(s.redis, s.prefix);
  const opsQueues = createOpsQueues(s.redis, s.prefix);
  const producers = createProducers({ queues, opsQueues, clock: systemClock, debounceMs: 0 });
  const started: ServerProcess[] = [];
  try {
    for (const c of s.customers) {
      stripe.putCustomer(c.customer);
      stripe.putPaymentMethod(c.paymentMethod);
      for (const sub of c.subscriptions) stripe.putSubscription(sub);
    }
    const ids = s.customers.map((c) => c.id);
    const backlog = signedEventPool(s.backlog, ids, 'whsec_unused', 'aio').map((e) => JSON.parse(e.payload) as StripeEventLike);
    for (let i = 0; i < backlog.length; i += 500) {
      await Promise.all(backlog.slice(i, i + 500).map((event) => producers.stripeEvent({ digest: digestEvent(event), receivedAt: Date.now() })));
    }
    await queues.cardExpiry.add(JOB.expirySweep, { requestedBy: 'bench' });
    const b2 = await startServer('b2-express-hgetall', { env: s.env });
    started.push(b2);
    const aio = await startServer('subgate-all-in-one', { env: { ...s.env, STRIPE_API_BASE: stripe.url, BENCH_STRIPE_RATE: String(s.stripeRequestsPerSecond) }, ...(s.cpuProfileDir ? { cpuProfileDir: s.cpuProfileDir } : {}) });
    started.push(aio);
    await aio.request('loop');
    const b2c = s.contender(b2);
    const aioc = s.contender(aio);
    const turns = await interleaved([b2c, aioc], s.rounds);
    const loop = await aio.request<{ p50Ms: number; p99Ms: number; maxMs: number }>('loop');
    // Events still to route and refreshes still to run (paced by the Stripe budget): the backlog in flight.
    const counts = await Promise.all([queues.stripeEvents, queues.customerSync].map((q) => q.getJobCounts('waiting', 'prioritized', 'delayed', 'active')));
    const left = counts.flatMap((c) => Object.values(c)).reduce((a, b) => a + b, 0);
    return { b2: turns.get(b2c.label)!, ent: turns.get(aioc.label)!, loop, left };
  } finally {
    for (const server of started) await server.stop();
    await Promise.all([queues.close(), opsQueues.close()]);
    await stripe.close();
  }
}
