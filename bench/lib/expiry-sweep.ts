/**
 * The card-expiry safety net, end to end: N subscribers of which 10,000 hold a card that expired, and the
 * time from the daily sweep job being queued to the 10,000th card flagged. This is the part that runs in
 * the measured process (bench/servers/subgate-sweep.ts, compiled, plain node); bench/lib/sweep-runner.ts
 * starts that process and the Stripe double, for `npm run bench` and `npm run bench:sweep`.
 *
 *   seed    minimal projections through the store's real write script, pipelined (this also fills the
 *           expiry index); 10,000 cards expired two weeks before the run's clock, spread evenly through
 *           the population; every other card expires 2 to 5 years out, beyond the sweep's window
 *   timed   with the card-expiry worker already running (the real processor, wired as createWorkerSet
 *           does), an expiry-sweep job is added to the card-expiry queue, as the job scheduler does daily.
 *           The worker runs the sweep (read the index window, read those customers, plan their jobs,
 *           addBulk page by page) and, on its other slots, the expiry checks as they land: read the
 *           projection, re-read the card from Stripe, raise the flag, publish the entitlement change,
 *           queue the card_expired notice. The clock stops when the 10,000th check has answered 'flagged'.
 *
 * The Stripe re-read is either the local Stripe double (another process, through the real SDK and
 * createStripeBilling, so the SDK's HTTP cost is in the figure) or an in-process stub of
 * StripeBilling.fetchCard. Neither has Stripe's own latency or rate limit.
 *
 * Every scale FLUSHes the Redis it is given: give it a throwaway one.
 */
import { Worker } from 'bullmq';
import { createSilentLogger } from '../../src/logger.js';
import { JOB, QUEUE, queueOptions, type CardExpiryJobData, type CardExpiryJobName } from '../../src/queues.js';
import { subscriberKeys } from '../../src/store/subscriber-store.js';
import { createWorkerConnection, waitUntilReady } from '../../src/store/redis-connections.js';
import { buildServices } from '../../src/composition.js';
import { systemClock } from '../../src/runtime.js';
import { createCardExpiryProcessor } from '../../workers/processors/card-expiry.processor.js';
import { benchConfig } from './bench-config.js';
import type { StripeBilling } from '../../src/adapters/stripe-billing.js';
import type { CustomerProjection } from '../../src/domain/projection.js';
import type { SweepResult } from '../../src/expiry/expiry-sweep.js';

export const SWEEP_EXPIRED = 10_000;
/** The clock of the run: cards printed 05/2027 expired on 1 June. */
export const SWEEP_NOW = Date.UTC(2027, 5, 15, 12);
const SEED_BATCH = 5_000;
const PREFIX = 'benchsweep';

export type StripeReread = 'double' | 'stub';

export const STRIPE_REREAD_LABEL: Record<StripeReread, string> = {
  double: 'Stripe re-read: the local Stripe double, over HTTP through the SDK',
  stub: 'Stripe re-read: an in-process stub',
};

/** Who is who among `subscribers`: the expired cards spread evenly, at most SWEEP_EXPIRED of them. */
export function sweepPopulation(subscribers: number): { expired: number; isExpired(i: number): boolean; expiredIndexes(): number[] } {
  const every = Math.max(1, Math.floor(subscribers / SWEEP_EXPIRED));
  const isExpired = (i: number) => i % every === 0 && i / every < SWEEP_EXPIRED && i < subscribers;
  const expiredIndexes = () => {
    const out: number[] = [];
    for (let i = 0; i < subscribers; i += every) if (isExpired(i)) out.push(i);
    return out;
  };
  return { expired: Math.min(SWEEP_EXPIRED, Math.ceil(subscribers / every)), isExpired, expiredIndexes };
}

/** The card of subscriber i, as the projection holds it and as Stripe answers for it. */
export function sweepCard(i: number, expired: boolean) {
  return { id: `pm_b${i}`, customer: `cus_b${i}`, brand: 'visa', last4: '4242', exp_month: expired ? 5 : 1 + (i % 12), exp_year: expired ? 2027 : 2029 + (i % 4) };
}

export interface SweepSettings {
  /** A Redis this bench may FLUSHDB. */
  redisUrl: string;
  subscribers: number;
  /** The real billing adapter pointed at the Stripe double; null: the in-process stub. */
  billing: StripeBilling | null;
  /** Card-expiry worker concurrency (WORKER_CONCURRENCY in production, default 8). */
  concurrency: number;
  timeoutMs: number;
  /** Progress lines. */
  log?: (text: string) => void;
}

export interface SweepFigures extends Record<string, unknown> {
  subscribers: number;
  expired: number;
  stripe: StripeReread;
  concurrency: number;
  seedMs: number;
  /** Entries of the expiry index after seeding (one per subscriber with a billed card). */
  indexSize: number;
  /** Sweep job added -> the last expected card flagged. */
  totalMs: number;
  /** Sweep job added -> sweep job completed (read + plan + addBulk; the checks run alongside). */
  sweepDoneMs: number;
  /** The sweep's own account of itself (its tookMs excludes the wait in the queue). */
  sweep: SweepResult | null;
  flagged: number;
  /** Check outcomes other than 'flagged' (none expected). */
  otherOutcomes: Record<string, number>;
  failed: number;
  /** Card re-reads the Stripe double (or the stub) answered. */
  stripeReads: number;
  noticesQueued: number;
  timedOut: boolean;
  redisUsedMemory: string;
  /** Peak RSS of the measuring process, bytes. */
  maxRss: number;
}

function projection(i: number, expired: boolean): CustomerProjection {
  const { customer: _customer, ...card } = sweepCard(i, expired);
  return {
    customer: `cus_b${i}`,
    user: null,
    email: `r${i}@bench.test`,
    deleted: false,
    default_card: card,
    subscriptions: [{ id: `sub_b${i}`, status: 'active', current_period_end: null, cancel_at_period_end: false, card, past_due_since: null, created: 0 }],
    read_at: SWEEP_NOW - 60_000,
  };
}

const notInThisBench = () => Promise.reject(new Error('not in this bench'));

/** Stripe as the expiry check sees it: the card exists, attached, unchanged (no updater refresh). */
function stubBilling(counter: { reads: number }): StripeBilling {
  return {
    async fetchCard(customerId, cardId) {
      counter.reads++;
      return {
        customerId,
        source: { id: cardId, object: 'payment_method', type: 'card', card: { brand: 'visa', last4: '4242', exp_month: 5, exp_year: 2027 } },
      };
    },
    fetchCharge: notInThisBench,
    fetchInvoicePayments: notInThisBench,
    createPortalSession: notInThisBench,
    setSubscriptionCard: notInThisBench,
    listOpenInvoices: notInThisBench,
    payInvoice: notInThisBench,
  };
}

export async function measureExpirySweep(s: SweepSettings): Promise<SweepFigures> {
  const log = s.log ?? (() => {});
  const population = sweepPopulation(s.subscribers);
  const stubCounter = { reads: 0 };
  const billing = s.billing ?? stubBilling(stubCounter);

  // As workers/main.ts: one worker connection for the queues, the store and the components; BullMQ
  // duplicates it for the worker's blocking connection.
  const connection = createWorkerConnection(s.redisUrl, 'bench-sweep');
  connection.on('error', () => {});
  await waitUntilReady(connection);
  await connection.flushdb();
  const logger = createSilentLogger();
  const clock = { now: () => SWEEP_NOW };
  const config = benchConfig({
    REDIS_URL: s.redisUrl,
    REDIS_KEY_PREFIX: PREFIX,
    STRIPE_API_RATE_LIMIT: '10000',
    NEW_CARD_RECOVERY: 'false',
    PUBLISHER_NAME: 'Bench',
    SUPPORT_EMAIL: 'help@bench.test',
  });
  const expiry = buildServices(config, { redis: connection, clock, logger, billing });
  const { queues, store } = expiry;
  let worker: Worker<CardExpiryJobData, unknown, CardExpiryJobName> | null = null;
  try {
    log(`seeding ${s.subscribers.toLocaleString('en-US')} subscribers (${population.expired.toLocaleString('en-US')} expired cards)`);
    const seedStart = performance.now();
    for (let from = 0; from < s.subscribers; from += SEED_BATCH) {
      const batch: CustomerProjection[] = [];
      for (let i = from; i < Math.min(from + SEED_BATCH, s.subscribers); i++) batch.push(projection(i, population.isExpired(i)));
      await store.writeMany(batch);
    }
    const seedMs = performance.now() - seedStart;
    const indexSize = (await Promise.all(subscriberKeys(PREFIX).expiryIndexShards().map((key) => connection.zcard(key)))).reduce((a, b) => a + b, 0);

    let flagged = 0;
    let failed = 0;
    const otherOutcomes: Record<string, number> = {};
    let sweep = null as SweepResult | null;
    let sweepDoneAt = 0;
    let resolveAll!: () => void;
    const allFlagged = new Promise<void>((resolve) => (resolveAll = resolve));
    worker = new Worker<CardExpiryJobData, unknown, CardExpiryJobName>(
      QUEUE.cardExpiry,
      createCardExpiryProcessor({ service: expiry.cardExpiry, sweep: expiry.sweep, queueClock: systemClock }),
      { ...queueOptions(connection, PREFIX, QUEUE.cardExpiry), concurrency: s.concurrency },
    );
    worker.on('completed', (job, result) => {
      const outcome = (result as { outcome?: string }).outcome ?? '?';
      if (job.name === JOB.expirySweep) {
        sweepDoneAt = performance.now();
        sweep = result as SweepResult;
      } else if (outcome === 'flagged') {
        if (++flagged === population.expired) resolveAll();
      } else {
        otherOutcomes[outcome] = (otherOutcomes[outcome] ?? 0) + 1;
      }
    });
    worker.on('failed', (job, err) => {
      if (failed++ < 5) log(`job ${job?.name} ${job?.id} failed: ${err.message}`);
    });
    worker.on('error', (err) => log(`worker error: ${err.message}`));
    await worker.waitUntilReady();
    // The worker is idle on an empty queue; let it settle into its blocking wait before the clock starts.
    await new Promise((resolve) => setTimeout(resolve, 200));

    log(`sweeping ${s.subscribers.toLocaleString('en-US')} subscribers`);
    const start = performance.now();
    await queues.cardExpiry.add(JOB.expirySweep, { requestedBy: 'bench' }, { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      allFlagged.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), s.timeoutMs))),
    ]);
    clearTimeout(timer);
    const totalMs = performance.now() - start;
    // The sweep finishes before its last checks do, but wait for it should it not have.
    for (let i = 0; i < 100 && sweep === null; i++) await new Promise((resolve) => setTimeout(resolve, 50));

    const notices = await queues.notices.getJobCounts('waiting', 'delayed', 'prioritized');
    const redisUsedMemory = /used_memory_human:(\S+)/.exec(await connection.info('memory'))?.[1] ?? '?';
    return {
      subscribers: s.subscribers,
      expired: population.expired,
      stripe: s.billing ? 'double' : 'stub',
      concurrency: s.concurrency,
      seedMs,
      indexSize,
      totalMs,
      sweepDoneMs: sweepDoneAt > 0 ? sweepDoneAt - start : NaN,
      sweep,
      flagged,
      otherOutcomes,
      failed,
      stripeReads: stubCounter.reads,
      noticesQueued: Object.values(notices).reduce((a, b) => a + b, 0),
      timedOut,
      redisUsedMemory,
      maxRss: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    await worker?.close();
    await queues.close();
    await connection.quit();
  }
}

/** What went wrong, if anything: every expired card flagged exactly once, with one notice each. */
export function sweepProblems(f: SweepFigures): string[] {
  const problems: string[] = [];
  const at = `expiry sweep among ${f.subscribers.toLocaleString('en-US')}`;
  if (f.timedOut) problems.push(`${at}: only ${f.flagged} of ${f.expired} cards flagged before the timeout`);
  if (f.failed > 0) problems.push(`${at}: ${f.failed} card-expiry jobs failed`);
  if (Object.keys(f.otherOutcomes).length > 0) problems.push(`${at}: unexpected outcomes ${JSON.stringify(f.otherOutcomes)}`);
  if (f.sweep === null) problems.push(`${at}: the sweep job did not complete`);
  else if (f.sweep.customers !== f.expired) problems.push(`${at}: the sweep read ${f.sweep.customers} customers, expected ${f.expired}`);
  if (!f.timedOut && f.noticesQueued !== f.expired) problems.push(`${at}: ${f.noticesQueued} card_expired notices queued, expected ${f.expired}`);
  if (!f.timedOut && f.stripeReads !== f.expired) problems.push(`${at}: ${f.stripeReads} Stripe card re-reads, expected ${f.expired}`);
  return problems;
}

export function describeSweep(f: SweepFigures): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return (
    `${n(f.subscribers)} subscribers (seeded in ${(f.seedMs / 1000).toFixed(1)} s, index ${n(f.indexSize)}): ` +
    `${n(f.flagged)} cards flagged ${(f.totalMs / 1000).toFixed(2)} s after the sweep job was queued ` +
    `(${n(Math.round(f.flagged / (f.totalMs / 1000)))}/s); the sweep job itself read ${n(f.sweep?.customers ?? 0)} customers and ` +
    `planned ${n(f.sweep?.jobs ?? 0)} jobs, done at ${(f.sweepDoneMs / 1000).toFixed(2)} s; ` +
    `${n(f.stripeReads)} Stripe re-reads (${f.stripe}), ${n(f.noticesQueued)} notices queued, concurrency ${f.concurrency}; redis ${f.redisUsedMemory}`
  );
}
