/**
 * Processor of the customer-sync queue: one syncCustomer call per job. Stripe's 429 pauses the whole
 * queue for a while (without spending an attempt); errors no retry can fix fail the job at once with
 * their reason; anything else throws so BullMQ retries with backoff.
 */
import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { SyncCustomer } from '../src/sync/customer-sync.js';
import type { SyncCustomerJobData, SyncCustomerResult } from '../src/queues.js';
import { isStripePermanent, isStripeRateLimited } from '../src/adapters/stripe-gateway.js';

export interface CustomerSyncProcessorDeps {
  syncCustomer: SyncCustomer;
  /** The customer-sync queue, to rate-limit it when Stripe answers 429. */
  queue: Pick<Queue, 'rateLimit'>;
  rateLimitBackoffMs: number;
}

export function createCustomerSyncProcessor(deps: CustomerSyncProcessorDeps) {
  return async function processCustomerSync(job: Job<SyncCustomerJobData>): Promise<SyncCustomerResult> {
    const { customerId } = job.data;
    try {
      const outcome = await deps.syncCustomer(customerId);
      return { customerId, outcome };
    } catch (err) {
      if (isStripeRateLimited(err)) {
        await deps.queue.rateLimit(deps.rateLimitBackoffMs);
        throw Worker.RateLimitError();
      }
      if (isStripePermanent(err)) {
        throw new UnrecoverableError(`Stripe refused the read: ${(err as Error).message}`);
      }
      throw err;
    }
  };
}
