/**
 * Making, revoking and ending a grant. A grant is stored under every reader it counts for: a customer's
 * under that customer and its user, a user's under that user and each of the user's customers, so an
 * answer by customer and one by user agree. Then the reader's entitlements are computed again and each
 * changed feature is published on the change feed (the watch), and a new grant gets the delayed job that
 * publishes its end at its instant (on the card-expiry queue, as grace ends are). A user with no customer
 * yet has no feed entry (the feed is keyed by customer): a client's cached answer for them lapses with
 * its TTL.
 */
import type { AccessGrant, Clock } from '../domain/projection.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { GrantReader, GrantStore } from '../store/grant-store.js';
import type { EntitlementWatch } from '../sync/entitlement-watch.js';
import type { GrantEndJobData, Producers } from '../queues.js';

export interface GrantChanges {
  /** Stores a new grant for every reader it counts for, schedules its end and publishes it. */
  create(grant: AccessGrant): Promise<void>;
  /** Removes a grant and publishes the change; null when there was none. */
  revoke(id: string): Promise<AccessGrant | null>;
  /** The grant-end job: publishes the reader's answers once the grant is over. */
  runGrantEnd(data: GrantEndJobData): Promise<{ outcome: string; retryInMs?: number }>;
}

export function createGrantChanges(deps: {
  grants: Pick<GrantStore, 'create' | 'revoke'>;
  store: Pick<SubscriberStore, 'read' | 'readByUser'>;
  watch: Pick<EntitlementWatch, 'refresh'>;
  producers: Pick<Producers, 'grantEnd'>;
  clock: Clock;
}): GrantChanges {
  async function refreshReader(subject: { customerId: string | null; user: string | null }): Promise<number> {
    const customers = subject.customerId !== null ? [subject.customerId] : (await deps.store.readByUser(subject.user!)).map((p) => p.customer);
    for (const customerId of customers) await deps.watch.refresh(customerId);
    return customers.length;
  }

  /** The readers a grant also counts for, beside its own. */
  async function alsoFor(grant: AccessGrant): Promise<GrantReader[]> {
    if (grant.customer !== null) {
      const user = (await deps.store.read(grant.customer))?.user ?? null;
      return user === null ? [] : [{ user }];
    }
    return (await deps.store.readByUser(grant.user!)).map((p) => ({ customer: p.customer }));
  }

  return {
    async create(grant) {
      await deps.grants.create(grant, await alsoFor(grant));
      await deps.producers.grantEnd({ grantId: grant.id, customerId: grant.customer, user: grant.user, until: grant.until });
      await refreshReader({ customerId: grant.customer, user: grant.user });
    },
    async revoke(id) {
      const revoked = await deps.grants.revoke(id);
      if (revoked) await refreshReader({ customerId: revoked.customer, user: revoked.user });
      return revoked;
    },
    async runGrantEnd(data) {
      const now = deps.clock.now();
      // Ran before its instant (a clock ahead on another host): back among the delayed jobs.
      if (now < data.until) return { outcome: 'early', retryInMs: data.until - now };
      const refreshed = await refreshReader(data);
      return { outcome: 'grant_ended', refreshed };
    },
  };
}
