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

/** One line of a subscription as access cares: what was bought (the price, its lookup_key, its product). */
export interface SubscriptionItemSnapshot {
  price: string | null;
  lookup_key: string | null;
  product: string | null;
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
  /** What the subscription sells; absent on snapshots written before items were kept (read as none). */
  items?: SubscriptionItemSnapshot[];
}

/** A product as the snapshot was read with it: its name (for notices) and, from Stripe Entitlements, its features. */
export interface ProductSnapshot {
  name: string | null;
  /** Lookup keys of its active features; null when features are not read from Stripe. */
  features: string[] | null;
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
   * The products the subscriptions' items point at, as the product catalog knew them at this read. Only
   * when features or product names are configured; a snapshot carries what it was judged with, so the
   * policy stays a pure function of the snapshot.
   */
  products?: Record<string, ProductSnapshot>;
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
  | 'granted'
  | 'card_expired'
  | 'payment_failed'
  | 'canceled'
  | 'incomplete'
  | 'paused'
  | 'none';

/** Where features come from (ACCESS_FEATURES_SOURCE) and what an item grants. */
export interface FeatureSettings {
  source: 'none' | 'config' | 'stripe';
  /** The feature every subscription grants under `none`, and the one a feature-less question asks about. */
  defaultFeature: string;
  /** `config`: a price lookup_key, a price id or a product id -> the features it grants. */
  map: Readonly<Record<string, readonly string[]>>;
}

export interface PolicySettings {
  cardExpiredGraceDays: number;
  pastDueGraceDays: number;
  /** Absent: every subscription grants the one feature `content` (the behaviour before features). */
  features?: FeatureSettings;
}

/**
 * Access to one feature given by hand (a support desk), until an instant, with who and why. subgate's own
 * data: a resync or backfill from Stripe never touches it.
 */
export interface AccessGrant {
  id: string;
  /** Exactly one of customer and user is set. */
  customer: string | null;
  user: string | null;
  feature: string;
  /** ms; the first instant without the grant. */
  until: number;
  reason: string;
  /** Who made it (the admin token's holder as recorded). */
  created_by: string;
  /** ms */
  created_at: number;
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
  | 'manual_grant'
  | 'not_in_plan'
  | 'no_subscription'
  | 'customer_deleted'
  | 'unknown_customer';

export interface Clock {
  /** ms since the epoch. */
  now(): number;
}
