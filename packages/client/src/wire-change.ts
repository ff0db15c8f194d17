/**
 * The statuses an answer can carry and one change as the change feed sends it (`event: change`, `data:`
 * this JSON). Kept apart from the answer's shape so each can grow on its own.
 */

export type EntitlementStatus =
  | 'active'
  | 'trialing'
  | 'grace_period'
  | 'granted'
  | 'card_expired'
  | 'payment_failed'
  | 'canceled'
  | 'incomplete'
  | 'paused'
  | 'none';

/** What a change compares: the answer's verdict and the card that decides it. */
export interface EntitlementSummary {
  entitled: boolean;
  status: EntitlementStatus;
  reason: string;
  /** The id of the card paying the deciding subscription, or null. */
  card: string | null;
}

export interface EntitlementChange {
  customer: string;
  user: string | null;
  /** Which feature's answer changed (the server's DEFAULT_FEATURE when it sells just one). */
  feature: string;
  previous: EntitlementSummary | null;
  next: EntitlementSummary;
  /** The subscriber version the summary was computed from. */
  version: number;
  /** ISO 8601 */
  at: string;
}
