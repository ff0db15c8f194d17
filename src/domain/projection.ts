/**
 * The per-customer projection: what subgate keeps of one Stripe customer, derived from Stripe's current
 * truth and rebuildable from it. Instants are milliseconds since the epoch (UTC) throughout; Stripe's
 * seconds are converted once, when a snapshot is projected.
 */

export type SubscriptionStatus =
  | 'incomplete'
  | 'incomplete_expired'
  | 'trialing'
  | 'active'
  | 'past_due'
  | 'canceled'
  | 'unpaid'
  | 'paused';

/** A card as far as access and notices care: never the number, only what the reader sees on a receipt. */
export interface CardSnapshot {
  /** pm_… for PaymentMethods, card_… or src_… for legacy sources. */
  id: string;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
}

export interface SubscriptionSnapshot {
  id: string;
  status: SubscriptionStatus;
  /** ms; null when Stripe gave none (neither on the subscription nor on its items). */
  current_period_end: number | null;
  cancel_at_period_end: boolean;
  /** The card that pays this subscription: its own default, else the customer's default. */
  card: CardSnapshot | null;
  /** ms; when this subscription was first seen past_due (kept across refreshes while it stays past_due). */
  past_due_since: number | null;
  /** ms; Stripe's created, used to break ties between equally good subscriptions. */
  created: number;
}

export interface CustomerProjection {
  customer: string;
  /** The publisher's own user id, from customer.metadata[USER_ID_METADATA_KEY]. */
  user: string | null;
  email: string | null;
  /** Stripe says the customer is deleted, or answered 404 for it: a terminal, recorded outcome. */
  deleted: boolean;
  /** The customer's own default card (invoice_settings.default_payment_method, else default_source). */
  default_card: CardSnapshot | null;
  subscriptions: SubscriptionSnapshot[];
  /** ms; the instant the Stripe read that produced this snapshot began. An older read never overwrites it. */
  read_at: number;
  /**
   * What subgate itself has recorded about this customer's cards (expiry flags, proof of payment), kept
   * beside the Stripe snapshot rather than in it, so a refresh from Stripe never erases them. Present on
   * reads only when there is at least one; never part of what a sync writes.
   */
  expiry_marks?: CardExpiryMark[];
}

/** Who raised an expiry flag: the delayed job at the expiry instant, the safety-net sweep, or an issuer decline. */
export type FlagSource = 'schedule' | 'sweep' | 'decline';

/**
 * One card at one printed expiry, as subgate has judged it. A mark names the card and the expiry it was
 * judged at, so a new card, or the same card with a new expiry (the networks' updater), is simply not
 * matched by it: the flag clears itself when the card changes.
 */
export interface CardExpiryMark {
  card: string;
  exp_month: number;
  exp_year: number;
  /** ms; when the card was flagged expired, or null. */
  flagged_at: number | null;
  flag_source: FlagSource | null;
  /** ms; when an invoice paid after the expiry instant proved the reader still pays. Wins over a flag. */
  honoured_at: number | null;
}

export type EntitlementStatus =
  | 'active'
  | 'trialing'
  | 'grace_period'
  | 'card_expired'
  | 'payment_failed'
  | 'canceled'
  | 'incomplete'
  | 'paused'
  | 'none';

export interface PolicySettings {
  cardExpiredGraceDays: number;
  pastDueGraceDays: number;
}

export interface Entitlement {
  entitled: boolean;
  status: EntitlementStatus;
  /** Why, in a machine-readable word the content service can switch on (e.g. "card_expired"). */
  reason: EntitlementReason;
  /** ms; when access ends if nothing is fixed. Only for grace_period. */
  grace_until: number | null;
  /** The subscription that decided the answer (the best one), or null. */
  subscription: SubscriptionSnapshot | null;
  /** The card that pays it, with whether it has expired at `now`. */
  card: (CardSnapshot & { expired: boolean }) | null;
}

export type EntitlementReason =
  | 'subscribed'
  | 'trial'
  | 'card_expired_grace'
  | 'card_expired'
  | 'payment_failed_grace'
  | 'payment_failed'
  | 'canceled'
  | 'incomplete'
  | 'paused'
  | 'no_subscription'
  | 'customer_deleted'
  | 'unknown_customer';

export interface Clock {
  /** ms since the epoch. */
  now(): number;
}
