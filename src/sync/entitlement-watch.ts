/**
 * refresh(customerId): recomputes a customer's entitlement to each feature from the stored projection,
 * its marks and the reader's grants, and publishes each answer that changed (the feed decides atomically,
 * so many callers make one publication). A reader who had lost a feature to a card problem and has it
 * again through a subscription gets an "access restored" notice (a grant restores nothing: the card is
 * still not fixed). Called after every projection write, flag, proof of payment, at the end of a card
 * grace, and when a grant is made, revoked or ends.
 */
import type { Clock, PolicySettings } from '../domain/projection.js';
import { decideEntitlement, decideFeatures } from '../domain/entitlement-policy.js';
import { featureSettingsOf } from '../domain/features.js';
import { isAccessRestored, summarizeEntitlement, type EntitlementSummary } from '../domain/entitlement-change.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { EntitlementFeed } from '../store/entitlement-feed.js';
import type { GrantStore } from '../store/grant-store.js';
import type { Producers } from '../queues.js';

export interface EntitlementWatchDeps {
  store: Pick<SubscriberStore, 'readState'>;
  feed: EntitlementFeed;
  clock: Clock;
  policy: PolicySettings;
  /** Null where no notices are sent (the API process queues them too, so this is rarely null). */
  notices: Pick<Producers, 'notice'> | null;
  /** The readers' grants; without it none count. */
  grants?: Pick<GrantStore, 'forCustomer' | 'forUser'> | null;
}

export type RefreshResult =
  | {
      outcome: 'published';
      /** The default feature's change (when it is among those published). */
      previous: EntitlementSummary | null;
      next: EntitlementSummary;
      /** Every feature published. */
      features: string[];
    }
  | { outcome: 'unchanged' | 'unknown_customer' };

export interface EntitlementWatch {
  refresh(customerId: string): Promise<RefreshResult>;
}

export function createEntitlementWatch(deps: EntitlementWatchDeps): EntitlementWatch {
  const defaultFeature = featureSettingsOf(deps.policy).defaultFeature;
  return {
    async refresh(customerId) {
      const state = await deps.store.readState(customerId);
      if (state === null) return { outcome: 'unknown_customer' };
      const { projection } = state;
      // The customer's grants and its user's (also a user grant made before this customer existed); a
      // grant of another customer of the same user stays with that customer.
      const grants = deps.grants
        ? [...(await deps.grants.forCustomer(customerId)), ...(projection.user ? await deps.grants.forUser(projection.user) : [])].filter(
            (g) => g.customer === null || g.customer === customerId,
          )
        : [];
      const now = deps.clock.now();
      // The default feature is always published, as the feed did before features (a reader without a
      // subscription has an answer too); every other feature the reader has or had beside it.
      const answers = new Map(decideFeatures(projection, now, deps.policy, grants).map((f) => [f.feature, f.entitlement]));
      if (!answers.has(defaultFeature)) answers.set(defaultFeature, decideEntitlement(projection, now, deps.policy, defaultFeature, grants));
      const changes = await deps.feed.publishFeatures({
        customerId,
        user: projection.user,
        version: state.version,
        summaries: [...answers].map(([feature, entitlement]) => ({ feature, summary: summarizeEntitlement(entitlement) })),
        at: now,
      });
      if (changes.length === 0) return { outcome: 'unchanged' };
      if (deps.notices) {
        // One notice per subscriber version at most (its key), for the first feature whose card came back.
        const restored = changes.find((c) => c.next.status !== 'granted' && isAccessRestored(c.previous, c.next) && answers.get(c.feature)?.card);
        const card = restored ? answers.get(restored.feature)!.card! : null;
        if (card) {
          const { expired: _expired, ...paying } = card;
          await deps.notices.notice({ kind: 'access_restored', customerId, card: paying, window: `v${state.version}`, requestedAt: now });
        }
      }
      const main = changes.find((c) => c.feature === defaultFeature) ?? changes[0]!;
      return { outcome: 'published', previous: main.previous, next: main.next, features: changes.map((c) => c.feature) };
    },
  };
}
