/**
 * writeSnapshot(next, previous): the one way a Stripe snapshot lands. It goes through the store's guarded
 * write (an older read never overwrites a newer one), and only a write that won runs the after-write hook
 * (card-expiry plan, a new card made to count, the entitlement published). Webhook refreshes, the
 * missing-customer path and the resync all write through it, so none of them can skip the hook.
 */
import type { CustomerProjection } from '../domain/projection.js';
import type { SubscriberStore, WriteResult } from '../store/subscriber-store.js';

export type AfterWrite = (written: { next: CustomerProjection; previous: CustomerProjection | null }) => Promise<void>;

/**
 * `order`: when the Stripe read behind `next` began, on the shared clock (SubscriberStore.readInstant, µs);
 * the guard keeps the latest. Without it the projection's read_at is the order.
 */
export type WriteSnapshot = (next: CustomerProjection, previous: CustomerProjection | null, order?: number) => Promise<WriteResult>;

export function createSnapshotWriter(deps: {
  store: Pick<SubscriberStore, 'write'>;
  /** A failure fails the write's caller (a sync job, a resync page), whose retry re-reads and runs it again. */
  afterWrite?: AfterWrite;
}): WriteSnapshot {
  return async (next, previous, order) => {
    const result = await deps.store.write(next, order);
    if (result === 'written') await deps.afterWrite?.({ next, previous });
    return result;
  };
}
