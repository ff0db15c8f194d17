/**
 * What follows a grant being made, revoked or reaching its end: the reader's entitlements are computed
 * again and each changed feature is published on the change feed (the watch), and a new grant gets the
 * delayed job that publishes its end at its instant (on the card-expiry queue, as grace ends are). A
 * user's grant counts with each of the user's customers, so each is refreshed; a user with no customer
 * yet has no feed entry (the feed is keyed by customer), and a client's cached answer for them lapses
 * with its TTL.
 */
import type { AccessGrant, Clock } from '../domain/projection.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { EntitlementWatch } from '../sync/entitlement-watch.js';
import type { GrantEndJobData, Producers } from '../queues.js';

export interface GrantChanges {
  /** After a grant was made (schedules its end) or revoked. */
  changed(grant: AccessGrant, how: 'created' | 'revoked'): Promise<void>;
  /** The grant-end job: publishes the reader's answers once the grant is over. */
  runGrantEnd(data: GrantEndJobData): Promise<{ outcome: string; retryInMs?: number }>;
}

export function createGrantChanges(deps: {
  store: Pick<SubscriberStore, 'readByUser'>;
  watch: Pick<EntitlementWatch, 'refresh'>;
  producers: Pick<Producers, 'grantEnd'>;
  clock: Clock;
}): GrantChanges {
  async function refreshReader(subject: { customerId: string | null; user: string | null }): Promise<number> {
    const customers = subject.customerId !== null ? [subject.customerId] : (await deps.store.readByUser(subject.user!)).map((p) => p.customer);
    for (const customerId of customers) await deps.watch.refresh(customerId);
    return customers.length;
  }

  return {
    async changed(grant, how) {
      if (how === 'created') {
        await deps.producers.grantEnd({ grantId: grant.id, customerId: grant.customer, user: grant.user, until: grant.until });
      }
      await refreshReader({ customerId: grant.customer, user: grant.user });
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
