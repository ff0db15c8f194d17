/**
 * What follows a projection write: plan the card-expiry jobs of the cards now billing the customer, make
 * a newly arrived default card count (when recovery is wired here: the worker side), and publish the
 * entitlement if it changed. Plugged into syncCustomer as its afterWrite hook.
 */
import type { CustomerProjection } from '../domain/projection.js';
import { newCardArrived } from '../domain/card-update.js';
import type { ExpiryScheduler } from '../expiry/expiry-scheduler.js';
import type { CardRecovery } from '../billing/card-recovery.js';
import type { EntitlementWatch } from './entitlement-watch.js';
import type { RequestSync } from './sync-requests.js';

export type AfterWrite = (written: { next: CustomerProjection; previous: CustomerProjection | null }) => Promise<void>;

export function createAfterSync(deps: {
  scheduler: ExpiryScheduler;
  watch: EntitlementWatch;
  /** Null where the caller runs recovery itself (the update-card return). */
  recovery: CardRecovery | null;
  requestSync: RequestSync;
}): AfterWrite {
  return async ({ next, previous }) => {
    // A fresh Stripe read carries no marks; the stored ones say which cards are flagged or proven already.
    const marks = previous?.expiry_marks;
    await deps.scheduler.scheduleFor(marks ? { ...next, expiry_marks: marks } : next);
    if (deps.recovery && newCardArrived(previous, next)) {
      const recovered = await deps.recovery.applyNewCard(next);
      if (recovered.changed) await deps.requestSync(next.customer, 'new-card-recovery');
    }
    await deps.watch.refresh(next.customer);
  };
}
