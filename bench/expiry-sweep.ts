/**
 * Bench of the card-expiry safety net: 10,000 expired cards among 10,000 subscribers, then among 1,000,000.
 * Each scale runs on a throwaway redis-server (or REDIS_URL's db, which is flushed: give it a spare one):
 *
 *   seed    minimal projections through the store's real write script, pipelined (this also fills the
 *           expiry index); 10,000 cards expired yesterday, every other card expires 2 to 5 years out
 *   sweep   one run of the sweep: read the index window, read those customers, plan their jobs (addBulk)
 *   flag    then the card-expiry worker runs the 10,000 expiry checks: re-read the card (an in-process Stripe
 *           stub, so Stripe's own latency and rate limit are left out), raise the flag, publish the
 *           entitlement change, queue the card_expired notice
 *
 *   npm run bench:sweep                 both scales
 *   npm run bench:sweep -- 10000        one scale (subscriber count)
 */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createTestRedis, startDisposableRedis, type DisposableRedis } from '../test/support/redis.js';
import { createSilentLogger } from '../src/logger.js';
import { createQueues, QUEUE, type CardExpiryJobData, type CardExpiryJobName } from '../src/queues.js';
import { createSubscriberStore, subscriberKeys } from '../src/store/subscriber-store.js';
import { createExpiryComponents } from '../src/expiry/expiry-components.js';
import { createCardExpiryProcessor } from '../workers/card-expiry.processor.js';
import type { StripeBilling } from '../src/adapters/stripe-billing.js';
import type { CustomerProjection } from '../src/domain/projection.js';

const EXPIRED = 10_000;
const NOW = Date.UTC(2027, 5, 15, 12); // the clock of the run: cards printed 05/2027 expired on 1 June
const BATCH = 5_000;
const CONCURRENCY = 64;

function projection(i: number, expired: boolean): CustomerProjection {
  const id = `cus_b${i}`;
  const card = { id: `pm_b${i}`, brand: 'visa', last4: '4242', exp_month: expired ? 5 : 1 + (i % 12), exp_year: expired ? 2027 : 2029 + (i % 4) };
  return {
    customer: id,
    user: null,
    email: `r${i}@bench.test`,
    deleted: false,
    default_card: card,
    subscriptions: [{ id: `sub_b${i}`, status: 'active', current_period_end: null, cancel_at_period_end: false, card, past_due_since: null, created: 0 }],
    read_at: NOW - 60_000,
  };
}

/** Stripe as the expiry check sees it: the card exists, attached, unchanged (no updater refresh). */
const stripeStub: StripeBilling = {
  async fetchCard(customerId, cardId) {
    return {
      customerId,
      source: { id: cardId, object: 'payment_method', type: 'card', card: { brand: 'visa', last4: '4242', exp_month: 5, exp_year: 2027 } },
    };
  },
  fetchCharge: () => Promise.reject(new Error('not in this bench')),
  createPortalSession: () => Promise.reject(new Error('not in this bench')),
  setSubscriptionCard: () => Promise.reject(new Error('not in this bench')),
  listOpenInvoices: () => Promise.reject(new Error('not in this bench')),
  payInvoice: () => Promise.reject(new Error('not in this bench')),
};

interface Figures {
  subscribers: number;
  seedMs: number;
  indexSize: number;
  sweepMs: number;
  customersRead: number;
  jobsPlanned: number;
  flagMs: number;
  flagged: number;
  perSecond: number;
  usedMemory: string;
}

async function runScale(url: string, redis: Redis, subscribers: number): Promise<Figures> {
  await redis.flushdb();
  const prefix = 'bench';
  const logger = createSilentLogger();
  const clock = { now: () => NOW };
  const queues = createQueues(redis, prefix);
  const store = createSubscriberStore({ redis, prefix });
  const expiry = createExpiryComponents({
    redis,
    prefix,
    queues,
    store,
    billing: stripeStub,
    clock,
    logger,
    policy: { cardExpiredGraceDays: 0, pastDueGraceDays: 7 },
    noticeDays: [30, 7],
    debounceMs: 500,
    links: null,
    publisherName: 'Bench',
    supportEmail: 'help@bench.test',
    newCardRecovery: false,
    streamMaxLength: 100_000,
  });

  // Seed: the expired ones spread evenly through the population.
  const every = Math.max(1, Math.floor(subscribers / EXPIRED));
  const seedStart = performance.now();
  for (let from = 0; from < subscribers; from += BATCH) {
    const batch: CustomerProjection[] = [];
    for (let i = from; i < Math.min(from + BATCH, subscribers); i++) batch.push(projection(i, i % every === 0 && i / every < EXPIRED));
    await store.writeMany(batch);
  }
  const seedMs = performance.now() - seedStart;
  const indexSize = await redis.zcard(subscriberKeys(prefix).expiryIndex);

  // The worker that runs the expiry checks, started once the sweep has finished so the two are timed apart.
  let flagged = 0;
  let resolveAll!: () => void;
  const allFlagged = new Promise<void>((resolve) => (resolveAll = resolve));
  const workerConnection = createTestRedis({ url });
  const worker = new Worker<CardExpiryJobData, unknown, CardExpiryJobName>(
    QUEUE.cardExpiry,
    createCardExpiryProcessor({ service: expiry.service, sweep: expiry.sweep }),
    { connection: workerConnection, prefix, concurrency: CONCURRENCY, autorun: false },
  );
  worker.on('completed', (_job, result) => {
    if ((result as { outcome?: string }).outcome === 'flagged' && ++flagged === EXPIRED) resolveAll();
  });
  worker.on('failed', (job, err) => console.error(`job ${job?.id} failed: ${err.message}`));
  await worker.waitUntilReady();

  const sweepStart = performance.now();
  const result = await expiry.sweep.sweep();
  const sweepMs = performance.now() - sweepStart;
  const flagStart = performance.now();
  void worker.run();
  await allFlagged;
  const flagMs = performance.now() - flagStart;

  const memory = /used_memory_human:(\S+)/.exec(await redis.info('memory'))?.[1] ?? '?';
  await worker.close();
  await workerConnection.quit();
  await queues.close();
  return {
    subscribers,
    seedMs,
    indexSize,
    sweepMs,
    customersRead: result.customers,
    jobsPlanned: result.jobs,
    flagMs,
    flagged,
    perSecond: Math.round(flagged / (flagMs / 1000)),
    usedMemory: memory,
  };
}

async function main(): Promise<void> {
  const scales = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n >= EXPIRED);
  const plan = scales.length > 0 ? scales : [10_000, 1_000_000];
  let disposable: DisposableRedis | undefined;
  let url = process.env.REDIS_URL;
  if (!url) {
    disposable = await startDisposableRedis();
    url = disposable.url;
  }
  const redis = createTestRedis({ url });
  try {
    const rows: Figures[] = [];
    for (const subscribers of plan) {
      const figures = await runScale(url, redis, subscribers);
      rows.push(figures);
      console.log(
        `${subscribers.toLocaleString('en')} subscribers: seeded in ${(figures.seedMs / 1000).toFixed(1)} s (index ${figures.indexSize.toLocaleString('en')}); ` +
          `sweep read ${figures.customersRead.toLocaleString('en')} customers and planned ${figures.jobsPlanned.toLocaleString('en')} jobs in ${figures.sweepMs.toFixed(0)} ms; ` +
          `then ${figures.flagged.toLocaleString('en')} cards flagged in ${(figures.flagMs / 1000).toFixed(2)} s (${figures.perSecond.toLocaleString('en')}/s); redis ${figures.usedMemory}`,
      );
    }
    console.table(
      rows.map((r) => ({
        subscribers: r.subscribers,
        'seed (s)': +(r.seedMs / 1000).toFixed(1),
        'index size': r.indexSize,
        'customers read': r.customersRead,
        'sweep (ms)': Math.round(r.sweepMs),
        'flagging (s)': +(r.flagMs / 1000).toFixed(2),
        'flags/s': r.perSecond,
        'redis memory': r.usedMemory,
      })),
    );
  } finally {
    await redis.quit();
    await disposable?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
