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
import { soldProducts } from '../domain/stripe-projection.js';
import type { StripeSubscriptionLike } from '../domain/stripe-shapes.js';
import type { ProductCatalog } from './product-catalog.js';

/** Stripe says the customer's features changed: the products they hold are read again if older than this. */
export const FEATURES_CHANGED_MAX_AGE_MS = 60_000;
export const FEATURES_CHANGED_REASON = 'entitlements.active_entitlement_summary.updated';

export type SyncOutcome = 'written' | 'stale' | 'missing';

export interface CustomerSyncDeps {
  stripe: StripeGateway;
  store: Pick<SubscriberStore, 'read' | 'readInstant'>;
  clock: Clock;
  userIdMetadataKey: string;
  logger: Logger;
  /** The guarded write and, when it wins, the after-write hook. */
  writeSnapshot: WriteSnapshot;
  /** The product catalog (names, Stripe features); null/absent when neither is configured. */
  catalog?: Pick<ProductCatalog, 'productsFor'> | null;
}

/** `reason` is what asked (an event type, 'resync', …). */
export type SyncCustomer = (customerId: string, options?: { reason?: string }) => Promise<SyncOutcome>;

export function createCustomerSync(deps: CustomerSyncDeps): SyncCustomer {
  const log = deps.logger.child({ component: 'customer-sync' });

  return async function syncCustomer(customerId, options = {}) {
    // The read instant is taken before the first request: anything Stripe changes after it will
    // arrive as another event and another, later, read. Reads are ordered by Redis's clock (the node
    // holding the customer), which every process shares: a worker whose host clock runs minutes behind
    // or ahead still orders its reads right against everyone else's. read_at, the instant the
    // projection states, stays on this process's injected clock.
    const order = await deps.store.readInstant(customerId);
    const readAt = deps.clock.now();
    let read;
    try {
      // One request for a customer with a subscription (the list carries the customer), two without.
      read = await deps.stripe.readCustomer(customerId);
    } catch (err) {
      if (!isStripeMissing(err)) throw err;
      const previous = await deps.store.read(customerId);
      const next = projectMissingCustomer(customerId, readAt, previous);
      const result = await deps.writeSnapshot(next, previous, order);
      log.info({ customerId, result }, 'customer not found in Stripe; recorded as deleted');
      return result === 'written' ? 'missing' : 'stale';
    }
    const { customer, subscriptions } = read;
    const previous = await deps.store.read(customerId);
    const products = deps.catalog ? await catalogFor(deps.catalog, subscriptions, options.reason) : undefined;
    const projection = projectCustomer({
      customer,
      subscriptions,
      readAt,
      userIdMetadataKey: deps.userIdMetadataKey,
      previous,
      ...(products ? { products } : {}),
    });
    const result = await deps.writeSnapshot(projection, previous, order);
    log.debug({ customerId, result, subscriptions: projection.subscriptions.length }, 'customer synced');
    return result;
  };
}

/** The catalog entries of the products these subscriptions sell, from the cache (Stripe only when stale). */
function catalogFor(catalog: Pick<ProductCatalog, 'productsFor'>, subscriptions: readonly StripeSubscriptionLike[], reason: string | undefined) {
  return catalog.productsFor(soldProducts(subscriptions), reason === FEATURES_CHANGED_REASON ? { maxAgeMs: FEATURES_CHANGED_MAX_AGE_MS } : {});
}
