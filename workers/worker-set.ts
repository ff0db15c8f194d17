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
import { createCardExpiryProcessor } from './card-expiry.processor.js';
import { createNoticeProcessor } from './notice.processor.js';
import type { CardExpiryService } from '../src/expiry/card-expiry-service.js';
import type { ExpirySweep } from '../src/expiry/expiry-sweep.js';
import type { NoticeSender } from '../src/notices/notice-sender.js';
import type { CardExpiryJobData, CardExpiryJobName, NoticeJobData } from '../src/queues.js';
import { JOB_STALL_DETECTION } from './stall-detection.js';

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
  /** First wait of a refresh Stripe refused for rate (429); see customer-sync.processor.ts. */
  rateLimitBackoffMs?: number;
  /** Card expiry and notices (issue 3); without it only the event and sync workers run. */
  cardExpiry?: CardExpiryWorkerDeps;
}

export interface CardExpiryWorkerDeps {
  service: CardExpiryService;
  sweep: ExpirySweep;
  noticeSender: NoticeSender;
  /** Notices per second across all workers (BullMQ's limiter is global per queue). */
  noticesPerSecond: number;
  concurrency?: number;
}

export interface WorkerSet {
  eventWorker: Worker<StripeEventJobData, StripeEventResult>;
  syncWorker: Worker<SyncCustomerJobData, SyncCustomerResult>;
  expiryWorker: Worker<CardExpiryJobData, unknown, CardExpiryJobName> | null;
  noticeWorker: Worker<NoticeJobData> | null;
  close(): Promise<void>;
}

export function createWorkerSet(deps: WorkerSetDeps): WorkerSet {
  const log = deps.logger.child({ component: 'workers' });
  const common = { connection: deps.connection, prefix: deps.prefix, ...JOB_STALL_DETECTION };

  const eventWorker = new Worker<StripeEventJobData, StripeEventResult>(
    QUEUE.stripeEvents,
    createStripeEventProcessor({
      ledger: deps.ledger,
      queues: deps.queues,
      clock: deps.clock,
      debounceMs: deps.debounceMs,
      ...(deps.cardExpiry ? { expirySignals: deps.queues.cardExpiry } : {}),
    }),
    { ...common, concurrency: Math.max(deps.concurrency, 16) },
  );
  const syncWorker = new Worker<SyncCustomerJobData, SyncCustomerResult>(
    QUEUE.customerSync,
    createCustomerSyncProcessor({ syncCustomer: deps.syncCustomer, rateLimitBackoffMs: deps.rateLimitBackoffMs ?? 1000 }),
    // No BullMQ limiter: every Stripe request waits for the shared request budget (stripe-http-client.ts),
    // which counts requests, retries and pages included, in any window. A job limiter would only add its
    // fixed windows, and a whole-queue pause when one customer is refused.
    { ...common, concurrency: deps.concurrency },
  );

  const expiry = deps.cardExpiry;
  const expiryWorker = expiry
    ? new Worker<CardExpiryJobData, unknown, CardExpiryJobName>(
        QUEUE.cardExpiry,
        createCardExpiryProcessor({ service: expiry.service, sweep: expiry.sweep }),
        { ...common, concurrency: expiry.concurrency ?? deps.concurrency },
      )
    : null;
  const noticeWorker = expiry
    ? new Worker<NoticeJobData>(QUEUE.notices, createNoticeProcessor({ sender: expiry.noticeSender }), {
        ...common,
        concurrency: expiry.concurrency ?? deps.concurrency,
        limiter: { max: expiry.noticesPerSecond, duration: 1000 },
      })
    : null;

  // Heterogeneous job types: the shared handling below only touches name, id, attempts and close().
  const all = [eventWorker, syncWorker, expiryWorker, noticeWorker].filter((w) => w !== null) as unknown as Worker[];
  for (const worker of all) {
    worker.on('failed', (job, err) => {
      log.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, reason: err.message }, 'job failed');
    });
    worker.on('error', (err) => log.error({ queue: worker.name, reason: err.message }, 'worker error'));
  }

  let closing: Promise<void> | null = null;
  return {
    eventWorker,
    syncWorker,
    expiryWorker,
    noticeWorker,
    close() {
      closing ??= Promise.allSettled(all.map((worker) => worker.close())).then(() => undefined);
      return closing;
    },
  };
}
