/**
 * Queue names, job names, payload types and job options: defined once, shared by producers (the HTTP
 * side) and workers. BullMQ job ids may not contain ':'; Stripe ids (evt_…, cus_…) never do.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { StripeEventLike } from './domain/stripe-shapes.js';

export const QUEUE = {
  stripeEvents: 'stripe-events',
  customerSync: 'customer-sync',
} as const;

export const JOB = {
  stripeEvent: 'stripe-event',
  syncCustomer: 'sync-customer',
} as const;

export interface StripeEventJobData {
  event: StripeEventLike;
  /** ms; when our endpoint accepted it (for lag figures). */
  receivedAt: number;
}

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

export interface Queues {
  stripeEvents: Queue<StripeEventJobData, unknown, typeof JOB.stripeEvent>;
  customerSync: Queue<SyncCustomerJobData, SyncCustomerResult, typeof JOB.syncCustomer>;
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string): Queues {
  const opts = { connection, prefix, skipWaitingForReady: true };
  const stripeEvents = new Queue<StripeEventJobData, unknown, typeof JOB.stripeEvent>(QUEUE.stripeEvents, opts);
  const customerSync = new Queue<SyncCustomerJobData, SyncCustomerResult, typeof JOB.syncCustomer>(QUEUE.customerSync, opts);
  // A Queue emits 'error' on connection trouble; without a listener Node would crash the process.
  stripeEvents.on('error', () => {});
  customerSync.on('error', () => {});
  return {
    stripeEvents,
    customerSync,
    async close() {
      await Promise.allSettled([stripeEvents.close(), customerSync.close()]);
    },
  };
}
