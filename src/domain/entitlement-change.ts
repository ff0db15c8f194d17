/**
 * What counts as a change of a customer's entitlement, for the feed that consumers follow: the answer's
 * entitled/status/reason and the card that decides it. Pure: the store decides atomically whether the
 * summary differs from the last one published.
 */
import type { Entitlement, EntitlementStatus } from './projection.js';

export interface EntitlementSummary {
  entitled: boolean;
  status: EntitlementStatus;
  reason: Entitlement['reason'];
  /** The id of the card paying the deciding subscription, or null. */
  card: string | null;
}

export function summarizeEntitlement(entitlement: Entitlement): EntitlementSummary {
  return {
    entitled: entitlement.entitled,
    status: entitlement.status,
    reason: entitlement.reason,
    card: entitlement.card?.id ?? null,
  };
}

/** Statuses a reader can lose access to by a card problem, and get it back from by fixing the card. */
const CARD_PROBLEM: ReadonlySet<EntitlementStatus> = new Set(['card_expired', 'payment_failed']);

/** A reader who had lost access to a card problem is entitled again: worth an "access restored" notice. */
export function isAccessRestored(previous: EntitlementSummary | null, next: EntitlementSummary): boolean {
  return previous !== null && !previous.entitled && CARD_PROBLEM.has(previous.status) && next.entitled;
}
