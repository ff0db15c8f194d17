/**
 * Queue names, job names, payload types, job options and the producers: defined once, shared by every
 * door that adds work (the webhook, the workers, the admin routes) and by the workers that take it.
 * Nothing else calls `Queue.add`: each kind of job has one typed producer below that holds all its
 * options. BullMQ job ids may not contain ':'; Stripe ids (evt_…, cus_…) never do.
 */
import { Queue, type Job, type JobsOptions, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Clock } from './domain/projection.js';
import { noticeKey } from './domain/notice.js';
import type { Urgency } from './domain/event-routing.js';
import { laneOf, type EventLane } from './domain/event-lanes.js';
import type { StripeEventLike } from './domain/stripe-shapes.js';
import type { EventDigest } from './domain/event-digest.js';
import type { ExpirySignal } from './domain/expiry-signals.js';
import type { NoticeRequest } from './domain/notice.js';
import { traceField, type TraceCarrier } from './tracing.js';
import { queuePrefix } from './store/key-layout.js';

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
  /** A manual grant reaches its `until`: re-evaluate and publish the reader's entitlements. */
  grantEnd: 'grant-end',
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
  /** The trace the webhook request began (tracing on only). */
  trace?: TraceCarrier;
};

export interface SyncCustomerJobData {
  customerId: string;
  /** What asked for the refresh: an event type, 'resync', 'update-card-return', … */
  reason: string;
  eventId?: string;
  requestedAt: number;
  /** The trace of whatever asked for the refresh (tracing on only). */
  trace?: TraceCarrier;
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

/** A grant's end: whose it is, and the instant it ends (ms). */
export interface GrantEndJobData {
  grantId: string;
  customerId: string | null;
  user: string | null;
  until: number;
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
  | typeof JOB.grantEnd
  | typeof JOB.expirySignal
  | typeof JOB.expirySweep;

export type CardExpiryJobData = CardJobData | PastDueGraceEndJobData | GrantEndJobData | ExpirySignalJobData | ExpirySweepJobData;

export type NoticeJobData = NoticeRequest & { trace?: TraceCarrier };

/** BullMQ priorities: lower runs first; 0 would mean "no priority" and run after none of these. */
export const PRIORITY = { accessChanging: 1, routine: 5, idle: 10 } as const;

/**
 * The stripe-events job's priority, by the lane of its event: an access-changing event queued behind
 * thousands of routine ones is routed (and its refresh queued, at its own priority) first. Every event
 * job carries one: BullMQ takes jobs without a priority before all prioritized ones.
 */
export const EVENT_LANE_PRIORITY: Readonly<Record<EventLane, number>> = {
  access: PRIORITY.accessChanging,
  routine: PRIORITY.routine,
  idle: PRIORITY.idle,
};

const DAY_MS = 86_400_000;

const STRIPE_EVENT_JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 3600, count: 50_000 },
  // Poison events stay in the failed set with their reason, for a human to look at.
  removeOnFail: { age: 30 * DAY_MS / 1000 },
};

function syncJobOptions(customerId: string, priority: number, debounceMs: number): JobsOptions {
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
function cardExpiryJobOptions(jobId: string, delayMs: number): JobsOptions {
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
function noticeJobOptions(key: string, retry: NoticeRetry): JobsOptions {
  return {
    jobId: `notice-${key}`,
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

/**
 * The BullMQ options of one queue, for its Queue and its Workers alike: each queue's keys under a hash tag
 * of their own (key-layout.ts), so BullMQ's scripts run on a Redis Cluster and the queues spread over its slots.
 */
export function queueOptions(connection: Redis, prefix: string, queueName: string) {
  return { connection, prefix: queuePrefix(prefix, queueName) };
}

export function createQueues(connection: Redis, prefix: string): Queues {
  const opts = (name: string) => ({ ...queueOptions(connection, prefix, name), skipWaitingForReady: true });
  const stripeEvents = new Queue<StripeEventJobData, unknown, typeof JOB.stripeEvent>(QUEUE.stripeEvents, opts(QUEUE.stripeEvents));
  const customerSync = new Queue<SyncCustomerJobData, SyncCustomerResult, typeof JOB.syncCustomer>(QUEUE.customerSync, opts(QUEUE.customerSync));
  const cardExpiry = new Queue<CardExpiryJobData, unknown, CardExpiryJobName>(QUEUE.cardExpiry, opts(QUEUE.cardExpiry));
  const notices = new Queue<NoticeJobData, unknown, typeof JOB.sendNotice>(QUEUE.notices, opts(QUEUE.notices));
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
 * Operations: the resync from Stripe and missed-event recovery. Each runs one job at a time; a resync
 * that stops is retried by BullMQ and resumes from its checkpoint.
 */
export const OPS_QUEUE = { resync: 'resync', eventRecovery: 'event-recovery' } as const;
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
  resync: Queue<ResyncJobData, unknown, typeof OPS_JOB.resync>;
  eventRecovery: Queue<RecoverEventsJobData, unknown, typeof OPS_JOB.recoverEvents>;
  close(): Promise<void>;
}

const RESYNC_JOB_OPTIONS: JobsOptions = {
  // At most one resync waits or runs; asking again while one does returns that one.
  deduplication: { id: OPS_JOB.resync },
  attempts: 6,
  backoff: { type: 'exponential', delay: 60_000 },
  removeOnComplete: { count: 20 },
  removeOnFail: { count: 20 },
};

export function createOpsQueues(connection: Redis, prefix: string): OpsQueues {
  const opts = (name: string) => ({ ...queueOptions(connection, prefix, name), skipWaitingForReady: true });
  const resync = new Queue<ResyncJobData, unknown, typeof OPS_JOB.resync>(OPS_QUEUE.resync, opts(OPS_QUEUE.resync));
  const eventRecovery = new Queue<RecoverEventsJobData, unknown, typeof OPS_JOB.recoverEvents>(OPS_QUEUE.eventRecovery, opts(OPS_QUEUE.eventRecovery));
  for (const queue of [resync, eventRecovery]) queue.on('error', () => {});
  return {
    resync,
    eventRecovery,
    async close() {
      await Promise.allSettled([resync.close(), eventRecovery.close()]);
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

const OPERATOR_JOB_OPTIONS: JobsOptions = { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };

const EXPIRY_SIGNAL_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: DAY_MS / 1000 },
  removeOnFail: { age: 30 * DAY_MS / 1000 },
};


/** A card-expiry job as the scheduler plans it: deterministic id, when it should run. */
export interface ScheduledJob {
  name: CardExpiryJobName;
  data: CardJobData | PastDueGraceEndJobData;
  jobId: string;
  /** ms */
  runAt: number;
}

/** The one way work is added to the queues. */
export interface Producers {
  /** An accepted Stripe event, under its own id (a second add of one id while its job lives is a no-op). */
  stripeEvent(data: StripeEventJobData & { digest: EventDigest }): Promise<void>;
  /** A refresh of one customer from Stripe, coalesced per customer and debounced. */
  refresh(customerId: string, reason: string, urgency: Urgency, eventId?: string): Promise<void>;
  expirySignal(signal: ExpirySignal, eventId: string): Promise<void>;
  /** Card-expiry jobs; existing ids are left as they are. Returns how many were handed to BullMQ. */
  cardExpiryJobs(jobs: readonly ScheduledJob[]): Promise<number>;
  notice(request: NoticeRequest): Promise<void>;
  /** The delayed job that publishes a grant's end at its instant (one per grant: a second add is a no-op). */
  grantEnd(data: GrantEndJobData): Promise<void>;
  /** A resync (or the one already waiting or running). */
  resync(requestedBy: string, fresh: boolean): Promise<Job>;
  recoverEvents(requestedBy: string): Promise<Job>;
}

export function createProducers(deps: {
  queues: Queues;
  opsQueues: OpsQueues;
  clock: Clock;
  /** SYNC_DEBOUNCE_MS */
  debounceMs: number;
  noticeRetry?: NoticeRetry;
}): Producers {
  const { queues, opsQueues, clock } = deps;
  return {
    async stripeEvent(data) {
      await queues.stripeEvents.add(JOB.stripeEvent, { ...data, ...traceField() }, {
        ...STRIPE_EVENT_JOB_OPTIONS,
        jobId: data.digest.id,
        priority: EVENT_LANE_PRIORITY[laneOf(data.digest)],
      });
    },
    async refresh(customerId, reason, urgency, eventId) {
      const priority = urgency === 'access' ? PRIORITY.accessChanging : PRIORITY.routine;
      await queues.customerSync.add(
        JOB.syncCustomer,
        { customerId, reason, ...(eventId === undefined ? {} : { eventId }), requestedAt: clock.now(), ...traceField() },
        syncJobOptions(customerId, priority, deps.debounceMs),
      );
    },
    async expirySignal(signal, eventId) {
      await queues.cardExpiry.add(JOB.expirySignal, { signal, eventId }, { ...EXPIRY_SIGNAL_JOB_OPTIONS, jobId: `signal-${eventId}` });
    },
    async cardExpiryJobs(jobs) {
      if (jobs.length === 0) return 0;
      const now = clock.now();
      await queues.cardExpiry.addBulk(jobs.map((job) => ({ name: job.name, data: job.data, opts: cardExpiryJobOptions(job.jobId, job.runAt - now) })));
      return jobs.length;
    },
    async grantEnd(data) {
      // On the card-expiry queue, where grace ends run: the same delayed-job path and its early-run guard.
      await queues.cardExpiry.add(JOB.grantEnd, data, cardExpiryJobOptions(`grant-end-${data.grantId}`, data.until - clock.now()));
    },
    async notice(request) {
      await queues.notices.add(JOB.sendNotice, { ...request, ...traceField() }, noticeJobOptions(noticeKey(request), deps.noticeRetry ?? DEFAULT_NOTICE_RETRY));
    },
    resync(requestedBy, fresh) {
      return opsQueues.resync.add(OPS_JOB.resync, { requestedBy, fresh }, RESYNC_JOB_OPTIONS);
    },
    recoverEvents(requestedBy) {
      return opsQueues.eventRecovery.add(OPS_JOB.recoverEvents, { requestedBy }, OPERATOR_JOB_OPTIONS);
    },
  };
}

/**
 * Worker locks: how fast a job held by a dead worker (kill -9, OOM, lost host) goes back to the others,
 * through BullMQ's lock and stalled-job check, tuned per kind of job. A job is recovered at the first stalled check after its
 * lock lapses, so the worst case is lockDuration + stalledInterval after the worker's last renewal.
 */

export type StallDetection = Required<Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>>;

/**
 * Refreshes, events, card expiry, notices, missed-event recovery: picked up again within 15 s (BullMQ's
 * defaults take up to 60 s).
 *
 * The lock does not have to outlast a job: BullMQ renews every active job's lock from a timer, every
 * lockDuration/4 to lockDuration/2, however long the processor takes. The longest job here is a refresh:
 * two Stripe reads with a 10 s SDK timeout each, plus at most 5 s each waiting for the request budget, and
 * the timer renews all along. What the lock must outlast is a renewal running late: a blocked event loop
 * (GC, a large JSON parse) or a slow Redis (an AOF fsync stall). 10 s leaves a renewal 5 s to be late
 * before a healthy job is taken for stalled; a check every 5 s is one small script per queue.
 *
 * A stalled job runs again, and every one of these is safe to run twice (a re-read through the guarded
 * writer, a notice claimed in its ledger, a ledger-checked enqueue), while failing one loses a refresh until
 * the next event: so a job may stall 3 times (a crash and two Redis stops) before it fails, still few enough
 * to stop a job that kills its worker each time.
 */
export const JOB_STALL_DETECTION: StallDetection = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 3 };

/**
 * The resync: picked up again within 90 s. It runs for hours and resumes from its checkpoint, so a minute
 * more after a crash costs nothing; a false stall, though, would start a second run beside the first, both
 * moving one checkpoint. Its lock tolerates a renewal 30 s late.
 */
export const RESYNC_STALL_DETECTION: StallDetection = { lockDuration: 60_000, stalledInterval: 30_000, maxStalledCount: 3 };
