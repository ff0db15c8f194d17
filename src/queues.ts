/**
 * Queue names, job names, payload types and job options: defined once, shared by producers (the HTTP
 * side) and workers. BullMQ job ids may not contain ':'; Stripe ids (evt_…, cus_…) never do.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { StripeEventLike } from './domain/stripe-shapes.js';
import type { EventDigest } from './domain/event-digest.js';
import type { ExpirySignal } from './domain/expiry-signals.js';
import type { NoticeRequest } from './domain/notice.js';

export const QUEUE = {
  stripeEvents: 'stripe-events',
  customerSync: 'customer-sync',
  cardExpiry: 'card-expiry',
  notices: 'notices',
} as const;

export const JOB = {
  stripeEvent: 'stripe-event',
  syncCustomer: 'sync-customer',
  /** A notice window of one card opens. */
  expiryNotice: 'expiry-notice',
  /** One card reaches its expiry instant: re-read it from Stripe, then flag it. */
  expiryCheck: 'expiry-check',
  /** The card grace ends: re-evaluate and publish the entitlement. */
  graceEnd: 'grace-end',
  /** A past_due subscription's payment grace ends: re-evaluate and publish the entitlement. */
  pastDueGraceEnd: 'past-due-grace-end',
  /** An event said something about a card at once (decline, expiring source, paid invoice). */
  expirySignal: 'expiry-signal',
  /** The safety net: re-plan every card due or near its window, from the expiry index. */
  expirySweep: 'expiry-sweep',
  sendNotice: 'send-notice',
} as const;

/** The id of the BullMQ job scheduler that runs the sweep (upsertJobScheduler keeps one per id). */
export const EXPIRY_SWEEP_SCHEDULER_ID = JOB.expirySweep;

/**
 * A stripe-events job: the event's digest (event-digest.ts), never the whole payload. Jobs queued
 * before digests carry `event` instead; the worker still reads them, so a deploy loses none.
 */
export type StripeEventJobData = ({ digest: EventDigest } | { event: StripeEventLike }) & {
  /** ms; when our endpoint accepted it (for lag figures). */
  receivedAt: number;
};

export interface SyncCustomerJobData {
  customerId: string;
  /** What asked for the refresh: an event type, 'backfill', 'update-card-return', … */
  reason: string;
  eventId?: string;
  requestedAt: number;
}

export interface SyncCustomerResult {
  customerId: string;
  outcome: 'written' | 'stale' | 'missing';
}

/** One card at one expiry, as a card-expiry job carries it. */
export interface CardJobData {
  customerId: string;
  cardId: string;
  exp_month: number;
  exp_year: number;
  /** Days before expiry, for a notice window; null for the expiry check and the grace end. */
  windowDays: number | null;
  /** Who planned it: the schedule after a refresh (default), or the safety-net sweep. */
  via?: 'schedule' | 'sweep';
}

export interface PastDueGraceEndJobData {
  customerId: string;
  subscriptionId: string;
}

export interface ExpirySignalJobData {
  signal: ExpirySignal;
  eventId: string;
}

export interface ExpirySweepJobData {
  /** Set when an operator or a test asks for a sweep; the scheduler's runs carry none. */
  requestedBy?: string;
}

export type CardExpiryJobName =
  | typeof JOB.expiryNotice
  | typeof JOB.expiryCheck
  | typeof JOB.graceEnd
  | typeof JOB.pastDueGraceEnd
  | typeof JOB.expirySignal
  | typeof JOB.expirySweep;

export type CardExpiryJobData = CardJobData | PastDueGraceEndJobData | ExpirySignalJobData | ExpirySweepJobData;

export type NoticeJobData = NoticeRequest;

/** BullMQ priorities: lower runs first; 0 would mean "no priority" and run after none of these. */
export const PRIORITY = { accessChanging: 1, routine: 5 } as const;

const DAY_MS = 86_400_000;

export const STRIPE_EVENT_JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 3600, count: 50_000 },
  // Poison events stay in the failed set with their reason, for a human to look at.
  removeOnFail: { age: 30 * DAY_MS / 1000 },
};

export function syncJobOptions(customerId: string, priority: number, debounceMs: number): JobsOptions {
  return {
    // One refresh waits per customer; while one runs, at most one more is kept to follow it.
    deduplication: { id: `sync-${customerId}`, keepLastIfActive: true },
    delay: debounceMs,
    priority,
    attempts: 12,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 30 * DAY_MS / 1000 },
  };
}

/** Card-expiry jobs carry deterministic ids: scheduling a card twice never makes two jobs. */
export function cardExpiryJobOptions(jobId: string, delayMs: number): JobsOptions {
  return {
    jobId,
    delay: Math.max(0, delayMs),
    attempts: 8,
    backoff: { type: 'exponential', delay: 5000 },
    // Kept a while so a re-plan within the window finds the id and adds nothing.
    removeOnComplete: { age: 35 * DAY_MS / 1000, count: 200_000 },
    removeOnFail: { age: 30 * DAY_MS / 1000 },
  };
}

export interface NoticeRetry {
  attempts: number;
  backoffMs: number;
}

export const DEFAULT_NOTICE_RETRY: NoticeRetry = { attempts: 12, backoffMs: 30_000 };

/** One job per notice key; the notice ledger's claim is what makes it one e-mail across job lifetimes. */
export function noticeJobOptions(noticeKey: string, retry: NoticeRetry = DEFAULT_NOTICE_RETRY): JobsOptions {
  return {
    jobId: `notice-${noticeKey}`,
    attempts: retry.attempts,
    backoff: { type: 'exponential', delay: retry.backoffMs },
    removeOnComplete: { age: DAY_MS / 1000, count: 50_000 },
    // Permanent rejections stay in the failed set with their reason, for a human to see.
    removeOnFail: { age: 30 * DAY_MS / 1000 },
  };
}

export interface Queues {
  stripeEvents: Queue<StripeEventJobData, unknown, typeof JOB.stripeEvent>;
  customerSync: Queue<SyncCustomerJobData, SyncCustomerResult, typeof JOB.syncCustomer>;
  cardExpiry: Queue<CardExpiryJobData, unknown, CardExpiryJobName>;
  notices: Queue<NoticeJobData, unknown, typeof JOB.sendNotice>;
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string): Queues {
  const opts = { connection, prefix, skipWaitingForReady: true };
  const stripeEvents = new Queue<StripeEventJobData, unknown, typeof JOB.stripeEvent>(QUEUE.stripeEvents, opts);
  const customerSync = new Queue<SyncCustomerJobData, SyncCustomerResult, typeof JOB.syncCustomer>(QUEUE.customerSync, opts);
  const cardExpiry = new Queue<CardExpiryJobData, unknown, CardExpiryJobName>(QUEUE.cardExpiry, opts);
  const notices = new Queue<NoticeJobData, unknown, typeof JOB.sendNotice>(QUEUE.notices, opts);
  const all = [stripeEvents, customerSync, cardExpiry, notices];
  // A Queue emits 'error' on connection trouble; without a listener Node would crash the process.
  for (const queue of all) queue.on('error', () => {});
  return {
    stripeEvents,
    customerSync,
    cardExpiry,
    notices,
    async close() {
      await Promise.allSettled(all.map((queue) => queue.close()));
    },
  };
}

/** Creates or updates the sweep's job scheduler (one per id, however many workers start). */
export async function upsertExpirySweep(queue: Queues['cardExpiry'], cron: string): Promise<void> {
  await queue.upsertJobScheduler(
    EXPIRY_SWEEP_SCHEDULER_ID,
    { pattern: cron, tz: 'UTC' },
    { name: JOB.expirySweep, data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
  );
}

/**
 * Operations (issue 5): the resync from Stripe and missed-event recovery. Each runs one job at a time; a
 * resync that stops is retried by BullMQ and resumes from its checkpoint.
 */
export const OPS_QUEUE = { backfill: 'backfill', eventRecovery: 'event-recovery' } as const;
export const OPS_JOB = { resync: 'resync', recoverEvents: 'recover-events' } as const;
export const EVENT_RECOVERY_SCHEDULER_ID = OPS_JOB.recoverEvents;

export interface ResyncJobData {
  requestedBy: string;
  /** Start over instead of resuming an unfinished run. */
  fresh?: boolean;
}

export interface RecoverEventsJobData {
  requestedBy?: string;
}

export interface OpsQueues {
  backfill: Queue<ResyncJobData, unknown, typeof OPS_JOB.resync>;
  eventRecovery: Queue<RecoverEventsJobData, unknown, typeof OPS_JOB.recoverEvents>;
  close(): Promise<void>;
}

export const RESYNC_JOB_OPTIONS: JobsOptions = {
  // At most one resync waits or runs; asking again while one does returns that one.
  deduplication: { id: OPS_JOB.resync },
  attempts: 6,
  backoff: { type: 'exponential', delay: 60_000 },
  removeOnComplete: { count: 20 },
  removeOnFail: { count: 20 },
};

export function createOpsQueues(connection: Redis, prefix: string): OpsQueues {
  const opts = { connection, prefix, skipWaitingForReady: true };
  const backfill = new Queue<ResyncJobData, unknown, typeof OPS_JOB.resync>(OPS_QUEUE.backfill, opts);
  const eventRecovery = new Queue<RecoverEventsJobData, unknown, typeof OPS_JOB.recoverEvents>(OPS_QUEUE.eventRecovery, opts);
  for (const queue of [backfill, eventRecovery]) queue.on('error', () => {});
  return {
    backfill,
    eventRecovery,
    async close() {
      await Promise.allSettled([backfill.close(), eventRecovery.close()]);
    },
  };
}

/** Creates or updates the recovery's job scheduler (one per id, however many workers start). */
export async function upsertEventRecovery(queue: OpsQueues['eventRecovery'], everyMs: number): Promise<void> {
  await queue.upsertJobScheduler(
    EVENT_RECOVERY_SCHEDULER_ID,
    { every: everyMs },
    {
      name: OPS_JOB.recoverEvents,
      data: {},
      opts: { attempts: 3, backoff: { type: 'exponential', delay: 10_000 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    },
  );
}
