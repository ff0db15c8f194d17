/**
 * What the update-card return URL does before redirecting: re-read the customer from Stripe at once (the
 * portal has just set the new default card; its webhook may take a while), make the new card count, and
 * re-read again if that changed anything, so the reader lands on the publisher's page with access back.
 */
import type { ReturnThrottle } from '../store/billing-link-throttle.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { SyncCustomer } from '../sync/customer-sync.js';
import type { CardRecovery } from '../billing/card-recovery.js';

export type RestoreAccess = (customerId: string) => Promise<void>;

export function createAccessRestorer(deps: {
  syncCustomer: SyncCustomer;
  store: Pick<SubscriberStore, 'read'>;
  recovery: CardRecovery;
  /** Optional: at most one re-read per customer per window (a reload or a re-opened link is free). */
  throttle?: ReturnThrottle;
}): RestoreAccess {
  return async (customerId) => {
    if (deps.throttle && !(await deps.throttle.tryAcquire(customerId))) return;
    await deps.syncCustomer(customerId);
    const projection = await deps.store.read(customerId);
    if (projection === null) return;
    const recovered = await deps.recovery.applyNewCard(projection);
    if (recovered.changed) await deps.syncCustomer(customerId);
  };
}
