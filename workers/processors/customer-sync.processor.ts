/**
 * Processor of the customer-sync queue: one syncCustomer call per job. A refusal for rate (Stripe's 429,
 * or no slot in our own request budget) puts this customer's job back among the delayed ones, with
 * jittered exponential backoff or Stripe's Retry-After, without spending an attempt: the other customers'
 * refreshes go on. Errors no retry can fix fail the job at once with their reason; anything else throws
 * so BullMQ retries with backoff.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Clock } from '../../src/domain/projection.js';
import type { SyncCustomer } from '../../src/sync/customer-sync.js';
import type { SyncCustomerJobData, SyncCustomerResult } from '../../src/queues.js';
import { isStripePermanent, isStripeRateLimited, stripeRetryAfterMs } from '../../src/adapters/stripe-gateway.js';
import { isStripeBudgetExhausted } from '../../src/adapters/stripe-http-client.js';

export interface CustomerSyncProcessorDeps {
  syncCustomer: SyncCustomer;
  /** Wall time, as BullMQ schedules delayed jobs by it. */
  queueClock: Clock;
  /** The first wait after a rate refusal that names none; it doubles with each refusal of the same job. */
  rateLimitBackoffMs: number;
  /** [0, 1), for the jitter. */
  random?: () => number;
}

/**
 * However many refusals in a row, a job asks again within 5 s (the SDK's own longest retry delay): the
 * request budget, not this backoff, is what keeps the rate down, so a longer wait would only leave the
 * customer stale longer.
 */
const MAX_BACKOFF_MS = 5000;
/** Stripe's Retry-After is honoured up to this. */
const MAX_RETRY_AFTER_MS = 60_000;

export function createCustomerSyncProcessor(deps: CustomerSyncProcessorDeps) {
  const random = deps.random ?? Math.random;
  return async function processCustomerSync(job: Job<SyncCustomerJobData>, token?: string): Promise<SyncCustomerResult> {
    const { customerId, reason } = job.data;
    try {
      const outcome = await deps.syncCustomer(customerId, { reason });
      return { customerId, outcome };
    } catch (err) {
      if ((isStripeRateLimited(err) || isStripeBudgetExhausted(err)) && token !== undefined) {
        await job.moveToDelayed(deps.queueClock.now() + rateLimitDelayMs(err, rateLimitRefusals(job), deps.rateLimitBackoffMs, random), token);
        throw new DelayedError();
      }
      if (isStripePermanent(err)) {
        throw new UnrecoverableError(`Stripe refused the read: ${(err as Error).message}`);
      }
      throw err;
    }
  };
}

/**
 * Refusals this job has had so far: each run starts an attempt, and only a failure counts one as made,
 * so the runs beyond the attempts made (and this one) ended delayed.
 */
function rateLimitRefusals(job: Job): number {
  return Math.max(0, job.attemptsStarted - job.attemptsMade - 1);
}

/**
 * Stripe's Retry-After when it sent one, else equal jitter over base x 2^refusals: refusals that came
 * together (one burst, many customers) come back spread out, not as the next burst.
 */
function rateLimitDelayMs(err: unknown, refusals: number, baseMs: number, random: () => number): number {
  const retryAfter = stripeRetryAfterMs(err);
  if (retryAfter !== null) return Math.min(MAX_RETRY_AFTER_MS, retryAfter) + random() * baseMs;
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(refusals, 30));
  return ceiling / 2 + (random() * ceiling) / 2;
}
