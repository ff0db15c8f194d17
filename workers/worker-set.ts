/**
 * The BullMQ workers of one process, built from injected parts so tests and `npm start` wire the same
 * thing. close() is idempotent and lets active jobs finish before it resolves.
 */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../src/logger.js';
import type { Clock } from '../src/domain/projection.js';
import type { EventLedger } from '../src/store/event-ledger.js';
import type { SyncCustomer } from '../src/sync/customer-sync.js';
import { QUEUE, type Queues, type StripeEventJobData, type SyncCustomerJobData, type SyncCustomerResult } from '../src/queues.js';
import { createStripeEventProcessor, type StripeEventResult } from './stripe-event.processor.js';
import { createCustomerSyncProcessor } from './customer-sync.processor.js';

/** A refresh is two Stripe requests (customer, subscriptions): the job budget is half the request budget. */
export const STRIPE_REQUESTS_PER_SYNC = 2;

export interface WorkerSetDeps {
  connection: Redis;
  prefix: string;
  queues: Queues;
  ledger: EventLedger;
  syncCustomer: SyncCustomer;
  clock: Clock;
  logger: Logger;
  debounceMs: number;
  concurrency: number;
  stripeRequestsPerSecond: number;
  rateLimitBackoffMs?: number;
}

export interface WorkerSet {
  eventWorker: Worker<StripeEventJobData, StripeEventResult>;
  syncWorker: Worker<SyncCustomerJobData, SyncCustomerResult>;
  close(): Promise<void>;
}

export function createWorkerSet(deps: WorkerSetDeps): WorkerSet {
  const log = deps.logger.child({ component: 'workers' });
  const common = { connection: deps.connection, prefix: deps.prefix };

  const eventWorker = new Worker<StripeEventJobData, StripeEventResult>(
    QUEUE.stripeEvents,
    createStripeEventProcessor({ ledger: deps.ledger, queues: deps.queues, clock: deps.clock, debounceMs: deps.debounceMs }),
    { ...common, concurrency: Math.max(deps.concurrency, 16) },
  );
  const syncWorker = new Worker<SyncCustomerJobData, SyncCustomerResult>(
    QUEUE.customerSync,
    createCustomerSyncProcessor({
      syncCustomer: deps.syncCustomer,
      queue: deps.queues.customerSync,
      rateLimitBackoffMs: deps.rateLimitBackoffMs ?? 2000,
    }),
    {
      ...common,
      concurrency: deps.concurrency,
      limiter: { max: Math.max(1, Math.floor(deps.stripeRequestsPerSecond / STRIPE_REQUESTS_PER_SYNC)), duration: 1000 },
    },
  );

  for (const worker of [eventWorker, syncWorker]) {
    worker.on('failed', (job, err) => {
      log.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, reason: err.message }, 'job failed');
    });
    worker.on('error', (err) => log.error({ queue: worker.name, reason: err.message }, 'worker error'));
  }

  let closing: Promise<void> | null = null;
  return {
    eventWorker,
    syncWorker,
    close() {
      closing ??= Promise.allSettled([eventWorker.close(), syncWorker.close()]).then(() => undefined);
      return closing;
    },
  };
}
