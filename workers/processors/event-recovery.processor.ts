/**
 * Processor of the event-recovery queue (run by its job scheduler): lists Stripe's recent events and
 * enqueues the ones the ledger has not seen. A Stripe failure throws; the next attempt or run lists again.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { RecoverEvents, RecoveryResult } from '../../src/operations/event-recovery.js';
import { isStripePermanent } from '../../src/adapters/stripe-gateway.js';
import type { RecoverEventsJobData } from '../../src/queues.js';

export function createEventRecoveryProcessor(deps: { recoverEvents: RecoverEvents }) {
  return async function processRecovery(_job: Job<RecoverEventsJobData>): Promise<RecoveryResult> {
    try {
      return await deps.recoverEvents();
    } catch (err) {
      if (isStripePermanent(err)) throw new UnrecoverableError(`Stripe refused the event list: ${(err as Error).message}`);
      throw err;
    }
  };
}
