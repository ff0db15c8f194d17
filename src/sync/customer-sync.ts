/**
 * syncCustomer(id): the one way the projection changes. It re-reads the customer's current state from
 * Stripe and writes it through the store's read-time guard, so webhooks, the resync, reconciliation and the
 * update-card return can all call it, in any order, and the newest read wins.
 */
import type { Logger } from '../logger.js';
import type { Clock } from '../domain/projection.js';
import { projectCustomer, projectMissingCustomer } from '../domain/stripe-projection.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { WriteSnapshot } from './snapshot-writer.js';
import { isStripeMissing, type StripeGateway } from '../adapters/stripe-gateway.js';

export type SyncOutcome = 'written' | 'stale' | 'missing';

export interface CustomerSyncDeps {
  stripe: StripeGateway;
  store: Pick<SubscriberStore, 'read'>;
  clock: Clock;
  userIdMetadataKey: string;
  logger: Logger;
  /** The guarded write and, when it wins, the after-write hook. */
  writeSnapshot: WriteSnapshot;
}

export type SyncCustomer = (customerId: string) => Promise<SyncOutcome>;

export function createCustomerSync(deps: CustomerSyncDeps): SyncCustomer {
  const log = deps.logger.child({ component: 'customer-sync' });

  return async function syncCustomer(customerId) {
    // The read instant is taken before the first request: anything Stripe changes after it will
    // arrive as another event and another, later, read.
    const readAt = deps.clock.now();
    let read;
    try {
      // One request for a customer with a subscription (the list carries the customer), two without.
      read = await deps.stripe.readCustomer(customerId);
    } catch (err) {
      if (!isStripeMissing(err)) throw err;
      const previous = await deps.store.read(customerId);
      const next = projectMissingCustomer(customerId, readAt, previous);
      const result = await deps.writeSnapshot(next, previous);
      log.info({ customerId, result }, 'customer not found in Stripe; recorded as deleted');
      return result === 'written' ? 'missing' : 'stale';
    }
    const { customer, subscriptions } = read;
    const previous = await deps.store.read(customerId);
    const projection = projectCustomer({
      customer,
      subscriptions,
      readAt,
      userIdMetadataKey: deps.userIdMetadataKey,
      previous,
    });
    const result = await deps.writeSnapshot(projection, previous);
    log.debug({ customerId, result, subscriptions: projection.subscriptions.length }, 'customer synced');
    return result;
  };
}
