/**
 * The BullMQ workers of one process, built from injected parts so tests and `npm start` wire the same
 * thing: the event, refresh, card-expiry and notice workers (createWorkerSet), and the operations workers,
 * the resync and missed-event recovery, one job at a time each (createOpsWorkers). close() is idempotent
 * and lets active jobs finish before it resolves.
 */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRepeatLimiter, type Logger } from '../src/logger.js';
import type { Clock } from '../src/domain/projection.js';
import type { EventLedger } from '../src/store/event-ledger.js';
import type { SyncCustomer } from '../src/sync/customer-sync.js';
import type { CardExpiryService } from '../src/expiry/card-expiry-service.js';
import type { ExpirySweep } from '../src/expiry/expiry-sweep.js';
import type { NoticeSender } from '../src/notices/notice-sender.js';
import type { RunResync, ResyncSummary } from '../src/operations/resync-runner.js';
import type { RecoverEvents, RecoveryResult } from '../src/operations/event-recovery.js';
import {
  JOB_STALL_DETECTION,
  OPS_QUEUE,
  QUEUE,
  RESYNC_STALL_DETECTION,
  queueOptions,
  type CardExpiryJobData,
  type CardExpiryJobName,
  type NoticeJobData,
  type Producers,
  type RecoverEventsJobData,
  type ResyncJobData,
  type StripeEventJobData,
  type SyncCustomerJobData,
  type SyncCustomerResult,
} from '../src/queues.js';
import type { ProductCatalog } from '../src/sync/product-catalog.js';
import type { GrantChanges } from '../src/flows/grant-changes.js';
import { createStripeEventProcessor, type StripeEventResult } from './processors/stripe-event.processor.js';
import { createCustomerSyncProcessor } from './processors/customer-sync.processor.js';
import { createCardExpiryProcessor } from './processors/card-expiry.processor.js';
import { createNoticeProcessor } from './processors/notice.processor.js';
import { createResyncProcessor } from './processors/resync.processor.js';
import { createEventRecoveryProcessor } from './processors/event-recovery.processor.js';
import { tracedProcessor } from '../src/tracing.js';

interface Connected {
  connection: Redis;
  prefix: string;
  logger: Logger;
  /** Wall time, as BullMQ schedules delayed jobs by it (the processors that put a job back use it). */
  queueClock: Clock;
}

export interface WorkerSetDeps extends Connected {
  ledger: Pick<EventLedger, 'count'>;
  producers: Pick<Producers, 'refresh' | 'expirySignal'>;
  syncCustomer: SyncCustomer;
  /** Where product events go (null without feature configuration). */
  catalog?: Pick<ProductCatalog, 'refreshProduct'> | null;
  concurrency: number;
  /** First wait of a refresh Stripe refused for rate (429); see customer-sync.processor.ts. */
  rateLimitBackoffMs?: number;
  cardExpiry: {
    service: CardExpiryService;
    sweep: ExpirySweep;
    noticeSender: NoticeSender;
    /** Notices per second across all workers (BullMQ's limiter is global per queue). */
    noticesPerSecond: number;
    /** Grant ends (the grant-end jobs on this queue). */
    grants?: Pick<GrantChanges, 'runGrantEnd'> | null;
  };
}

export interface WorkerSet {
  eventWorker: Worker<StripeEventJobData, StripeEventResult>;
  syncWorker: Worker<SyncCustomerJobData, SyncCustomerResult>;
  expiryWorker: Worker<CardExpiryJobData, unknown, CardExpiryJobName>;
  noticeWorker: Worker<NoticeJobData>;
  close(): Promise<void>;
}

export function createWorkerSet(deps: WorkerSetDeps): WorkerSet {
  const common = (queue: string) => ({ ...queueOptions(deps.connection, deps.prefix, queue), ...JOB_STALL_DETECTION });
  const { cardExpiry } = deps;
  const eventWorker = new Worker<StripeEventJobData, StripeEventResult>(
    QUEUE.stripeEvents,
    tracedProcessor(QUEUE.stripeEvents, createStripeEventProcessor({ ledger: deps.ledger, producers: deps.producers, catalog: deps.catalog ?? null })),
    { ...common(QUEUE.stripeEvents), concurrency: Math.max(deps.concurrency, 16) },
  );
  const syncWorker = new Worker<SyncCustomerJobData, SyncCustomerResult>(
    QUEUE.customerSync,
    tracedProcessor(
      QUEUE.customerSync,
      createCustomerSyncProcessor({ syncCustomer: deps.syncCustomer, queueClock: deps.queueClock, rateLimitBackoffMs: deps.rateLimitBackoffMs ?? 1000 }),
    ),
    // No BullMQ limiter: every Stripe request waits for the shared request budget (stripe-http-client.ts),
    // which counts requests, retries and pages included, in any window. A job limiter would only add its
    // fixed windows, and a whole-queue pause when one customer is refused.
    { ...common(QUEUE.customerSync), concurrency: deps.concurrency },
  );
  const expiryWorker = new Worker<CardExpiryJobData, unknown, CardExpiryJobName>(
    QUEUE.cardExpiry,
    tracedProcessor(QUEUE.cardExpiry, createCardExpiryProcessor({ service: cardExpiry.service, sweep: cardExpiry.sweep, grants: cardExpiry.grants ?? null, queueClock: deps.queueClock })),
    { ...common(QUEUE.cardExpiry), concurrency: deps.concurrency },
  );
  const noticeWorker = new Worker<NoticeJobData>(QUEUE.notices, tracedProcessor(QUEUE.notices, createNoticeProcessor({ sender: cardExpiry.noticeSender })), {
    ...common(QUEUE.notices),
    concurrency: deps.concurrency,
    limiter: { max: cardExpiry.noticesPerSecond, duration: 1000 },
  });
  return { eventWorker, syncWorker, expiryWorker, noticeWorker, close: watched([eventWorker, syncWorker, expiryWorker, noticeWorker], deps.logger, 'workers') };
}

export interface OpsWorkerDeps extends Connected {
  runResync: RunResync;
  recoverEvents: RecoverEvents;
}

export interface OpsWorkers {
  resyncWorker: Worker<ResyncJobData, ResyncSummary>;
  recoveryWorker: Worker<RecoverEventsJobData, RecoveryResult>;
  close(): Promise<void>;
}

export function createOpsWorkers(deps: OpsWorkerDeps): OpsWorkers {
  const common = (queue: string) => ({ ...queueOptions(deps.connection, deps.prefix, queue), concurrency: 1 });
  const resyncWorker = new Worker<ResyncJobData, ResyncSummary>(
    OPS_QUEUE.resync,
    createResyncProcessor({ runResync: deps.runResync, queueClock: deps.queueClock }),
    { ...common(OPS_QUEUE.resync), ...RESYNC_STALL_DETECTION },
  );
  const recoveryWorker = new Worker<RecoverEventsJobData, RecoveryResult>(
    OPS_QUEUE.eventRecovery,
    createEventRecoveryProcessor({ recoverEvents: deps.recoverEvents }),
    { ...common(OPS_QUEUE.eventRecovery), ...JOB_STALL_DETECTION },
  );
  return { resyncWorker, recoveryWorker, close: watched([resyncWorker, recoveryWorker], deps.logger, 'ops-workers') };
}

/** Logs failures and worker errors of each; returns the idempotent close of them all. */
function watched(workers: readonly object[], logger: Logger, component: string): () => Promise<void> {
  const log = logger.child({ component });
  // A worker error repeats as fast as BullMQ retries (a Redis answering READONLY or LOADING to every
  // command): one line per reason every 10 s, with the count left out.
  const repeating = createRepeatLimiter(log);
  // Heterogeneous job types: the shared handling only touches name, id, attempts and close().
  const all = workers as unknown as Worker[];
  for (const worker of all) {
    worker.on('failed', (job, err) => log.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, reason: err.message }, 'job failed'));
    worker.on('error', (err) => repeating('error', { queue: worker.name, reason: err.message }, 'worker error'));
  }
  let closing: Promise<void> | null = null;
  return () => {
    closing ??= Promise.allSettled(all.map((worker) => worker.close())).then(() => undefined);
    return closing;
  };
}
