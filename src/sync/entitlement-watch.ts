/**
 * refresh(customerId): recomputes a customer's entitlement from the stored projection and its marks, and
 * publishes it if it changed (the feed decides atomically, so many callers make one publication). A reader
 * who had lost access to a card problem and is entitled again gets an "access restored" notice.
 * Called after every projection write, flag, proof of payment, and at the end of a card grace.
 */
import type { Clock, PolicySettings } from '../domain/projection.js';
import { decideEntitlement } from '../domain/entitlement-policy.js';
import { isAccessRestored, summarizeEntitlement, type EntitlementSummary } from '../domain/entitlement-change.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { EntitlementFeed } from '../store/entitlement-feed.js';
import type { Producers } from '../queues.js';

export interface EntitlementWatchDeps {
  store: Pick<SubscriberStore, 'readState'>;
  feed: EntitlementFeed;
  clock: Clock;
  policy: PolicySettings;
  /** Null where no notices are sent (the API process queues them too, so this is rarely null). */
  notices: Pick<Producers, 'notice'> | null;
}

export type RefreshResult =
  | { outcome: 'published'; previous: EntitlementSummary | null; next: EntitlementSummary }
  | { outcome: 'unchanged' | 'unknown_customer' };

export interface EntitlementWatch {
  refresh(customerId: string): Promise<RefreshResult>;
}

export function createEntitlementWatch(deps: EntitlementWatchDeps): EntitlementWatch {
  return {
    async refresh(customerId) {
      const state = await deps.store.readState(customerId);
      if (state === null) return { outcome: 'unknown_customer' };
      const now = deps.clock.now();
      const entitlement = decideEntitlement(state.projection, now, deps.policy);
      const next = summarizeEntitlement(entitlement);
      const result = await deps.feed.publishIfChanged({
        customerId,
        user: state.projection.user,
        version: state.version,
        summary: next,
        at: now,
      });
      if (!result.published) return { outcome: 'unchanged' };
      if (deps.notices && entitlement.card && isAccessRestored(result.previous, next)) {
        const { expired: _expired, ...card } = entitlement.card;
        await deps.notices.notice({ kind: 'access_restored', customerId, card, window: `v${state.version}`, requestedAt: now });
      }
      return { outcome: 'published', previous: result.previous, next };
    },
  };
}
