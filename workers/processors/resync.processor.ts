/**
 * Processor of the resync queue: one resync per job, its page-by-page checkpoint reported as the job's
 * progress (Bull Board shows it). A run that stops throws, and BullMQ's retry resumes it from its last
 * page; a refusal no retry can fix (bad key, bad request) fails the job at once with its reason.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { ResyncBusyError, type ResyncSummary, type RunResync } from '../../src/operations/resync-runner.js';
import { isStripePermanent } from '../../src/adapters/stripe-gateway.js';
import type { ResyncJobData } from '../../src/queues.js';
import type { Clock } from '../../src/domain/projection.js';

/** A resync that finds another one running waits this long before it looks again (no attempt spent). */
const BUSY_RETRY_MS = 30_000;

export function createResyncProcessor(deps: {
  runResync: RunResync;
  /** Wall time, as BullMQ schedules delayed jobs by it. */
  queueClock: Clock;
  busyRetryMs?: number;
}) {
  return async function processResync(job: Job<ResyncJobData>, token?: string): Promise<ResyncSummary> {
    try {
      return await deps.runResync({
        requestedAt: job.timestamp,
        // Only the first attempt may start over; a retry always resumes.
        fresh: job.data.fresh === true && job.attemptsMade === 0,
        onProgress: (cp) =>
          job.updateProgress({ phase: cp.phase, subscriptions: cp.subscriptions, customers: cp.customers, written: cp.written, stale: cp.stale, retries: cp.retries }),
      });
    } catch (err) {
      if (err instanceof ResyncBusyError && token !== undefined) {
        await job.moveToDelayed(deps.queueClock.now() + (deps.busyRetryMs ?? BUSY_RETRY_MS), token);
        throw new DelayedError();
      }
      if (isStripePermanent(err)) throw new UnrecoverableError(`Stripe refused the resync: ${(err as Error).message}`);
      throw err;
    }
  };
}
