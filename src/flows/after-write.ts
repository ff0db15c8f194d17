/**
 * What follows a projection write that won, across three services: plan the card-expiry jobs of the cards
 * now billing the customer (expiry), make a newly arrived default card count (billing; where recovery is
 * wired here), and publish the entitlement if it changed (sync's watch). It sits above all three, and the
 * snapshot writer (sync/snapshot-writer.ts) runs it.
 */
import { newCardArrived } from '../domain/card-update.js';
import type { Producers } from '../queues.js';
import type { ExpiryScheduler } from '../expiry/expiry-scheduler.js';
import type { CardRecovery } from '../billing/card-recovery.js';
import type { EntitlementWatch } from '../sync/entitlement-watch.js';
import type { AfterWrite } from '../sync/snapshot-writer.js';
import type { CustomerStory } from './customer-story.js';

export function createAfterWrite(deps: {
  scheduler: Pick<ExpiryScheduler, 'scheduleFor'>;
  watch: EntitlementWatch;
  /** Null where the caller runs recovery itself (the update-card return). */
  recovery: CardRecovery | null;
  producers: Pick<Producers, 'refresh'>;
  /** The reader's timeline (what the refresh changed), the e-mail index and the funnel's card update. */
  story?: Pick<CustomerStory, 'afterWrite'>;
}): AfterWrite {
  return async ({ next, previous }) => {
    await deps.story?.afterWrite({ next, previous });
    // A fresh Stripe read carries no marks; the stored ones say which cards are flagged or proven already.
    const marks = previous?.expiry_marks;
    await deps.scheduler.scheduleFor(marks ? { ...next, expiry_marks: marks } : next);
    if (deps.recovery && newCardArrived(previous, next)) {
      const recovered = await deps.recovery.applyNewCard(next);
      if (recovered.changed) await deps.producers.refresh(next.customer, 'new-card-recovery', 'access');
    }
    await deps.watch.refresh(next.customer);
  };
}
