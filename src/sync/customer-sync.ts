/**
 * syncCustomer(id): the one way the projection changes. It re-reads the customer's current state from
 * Stripe and writes it through the store's read-time guard, so webhooks, backfill, reconciliation and the
 * update-card return can all call it, in any order, and the newest read wins.
 */
import type { Logger } from '../logger.js';
import type { Clock, CustomerProjection } from '../domain/projection.js';
import { isDeletedCustomer } from '../domain/stripe-shapes.js';
import { projectCustomer, projectMissingCustomer } from '../domain/stripe-projection.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import { isStripeMissing, type StripeGateway } from '../adapters/stripe-gateway.js';

export type SyncOutcome = 'written' | 'stale' | 'missing';

export interface CustomerSyncDeps {
  stripe: StripeGateway;
  store: SubscriberStore;
  clock: Clock;
  userIdMetadataKey: string;
  logger: Logger;
  /**
   * Runs after a write that won (not after a stale one): plans card-expiry jobs, applies a new card,
   * publishes the entitlement. A failure fails the sync, whose retry re-reads and runs it again.
   */
  afterWrite?: (written: { next: CustomerProjection; previous: CustomerProjection | null }) => Promise<void>;
}

export type SyncCustomer = (customerId: string) => Promise<SyncOutcome>;

export function createCustomerSync(deps: CustomerSyncDeps): SyncCustomer {
  const log = deps.logger.child({ component: 'customer-sync' });

  return async function syncCustomer(customerId) {
    // The read instant is taken before the first request: anything Stripe changes after it will
    // arrive as another event and another, later, read.
    const readAt = deps.clock.now();
    let customer;
    try {
      customer = await deps.stripe.fetchCustomer(customerId);
    } catch (err) {
      if (!isStripeMissing(err)) throw err;
      const previous = await deps.store.read(customerId);
      const next = projectMissingCustomer(customerId, readAt, previous);
      const result = await deps.store.write(next);
      if (result === 'written') await deps.afterWrite?.({ next, previous });
      log.info({ customerId, result }, 'customer not found in Stripe; recorded as deleted');
      return result === 'written' ? 'missing' : 'stale';
    }
    const subscriptions = isDeletedCustomer(customer) ? [] : await deps.stripe.listSubscriptions(customerId);
    const previous = await deps.store.read(customerId);
    const projection = projectCustomer({
      customer,
      subscriptions,
      readAt,
      userIdMetadataKey: deps.userIdMetadataKey,
      previous,
    });
    const result = await deps.store.write(projection);
    if (result === 'written') await deps.afterWrite?.({ next: projection, previous });
    log.debug({ customerId, result, subscriptions: projection.subscriptions.length }, 'customer synced');
    return result;
  };
}
