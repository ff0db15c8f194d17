/**
 * Processor of the backfill queue: one resync per job, its page-by-page checkpoint reported as the job's
 * progress (Bull Board shows it). A run that stops throws, and BullMQ's retry resumes it from its last
 * page; a refusal no retry can fix (bad key, bad request) fails the job at once with its reason.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { BackfillSummary, RunBackfill } from '../src/backfill/backfill-runner.js';
import { isStripePermanent } from '../src/adapters/stripe-gateway.js';
import type { ResyncJobData } from '../src/queues.js';

export function createBackfillProcessor(deps: { runBackfill: RunBackfill }) {
  return async function processResync(job: Job<ResyncJobData>): Promise<BackfillSummary> {
    try {
      return await deps.runBackfill({
        // Only the first attempt may start over; a retry always resumes.
        fresh: job.data.fresh === true && job.attemptsMade === 0,
        onProgress: (cp) =>
          job.updateProgress({ phase: cp.phase, subscriptions: cp.subscriptions, customers: cp.customers, written: cp.written, stale: cp.stale, retries: cp.retries }),
      });
    } catch (err) {
      if (isStripePermanent(err)) throw new UnrecoverableError(`Stripe refused the resync: ${(err as Error).message}`);
      throw err;
    }
  };
}
