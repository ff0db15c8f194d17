/**
 * Asking for a refresh from outside the event path (an expiry job that found the card changed in Stripe,
 * a card recovery that moved subscriptions): the same coalesced, prioritised customer-sync job the events make.
 */
import type { Clock } from '../domain/projection.js';
import { JOB, PRIORITY, syncJobOptions, type Queues } from '../queues.js';

export type RequestSync = (customerId: string, reason: string) => Promise<void>;

export function createSyncRequester(deps: { queue: Queues['customerSync']; clock: Clock; debounceMs: number }): RequestSync {
  return async (customerId, reason) => {
    await deps.queue.add(
      JOB.syncCustomer,
      { customerId, reason, requestedAt: deps.clock.now() },
      syncJobOptions(customerId, PRIORITY.accessChanging, deps.debounceMs),
    );
  };
}
