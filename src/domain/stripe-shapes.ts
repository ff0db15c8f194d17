/**
 * Structural types for the few Stripe fields subgate reads, and nothing else. They keep the domain free of
 * the SDK (its types move with every API version) while still accepting the SDK's objects, webhook
 * payloads parsed from JSON, and hand-built test doubles alike.
 *
 * Two API shapes are live at once: webhook endpoints pinned to an old version (the captured fixtures are
 * 2020-08-27) and SDK calls on a current one (2025+). Fields that moved are optional in both places, and
 * stripe-moved-fields.ts is the one reader that looks in both. Expandable references are
 * `string | Obj | null`: an id until expanded.
 */

export type Expandable<T> = string | T | null;

/** Card details as PaymentMethods carry them (`payment_method.card`): brand is lowercase ("visa"). */
export interface StripePaymentMethodCardLike {
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
}

export interface StripePaymentMethodLike {
  id: string;
  object: 'payment_method';
  /** "card", "sepa_debit", "link", …: only "card" has an expiry that can end access. */
  type: string;
  card?: StripePaymentMethodCardLike | null;
}

/** A legacy Card source (`card_…`), e.g. from tokens. Brand is display-cased ("Visa", "American Express"). */
export interface StripeLegacyCardLike {
  id: string;
  object: 'card';
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
}

/** A legacy Sources API object (`src_…`); only type "card" carries a card, and its fields may be missing. */
export interface StripeLegacySourceLike {
  id: string;
  object: 'source';
  type: string;
  card?: {
    brand?: string | null;
    last4?: string | null;
    exp_month?: number | null;
    exp_year?: number | null;
  } | null;
}

/** Sources that can be a customer's default but are never cards (ACH bank accounts, Connect accounts). */
export interface StripeNonCardSourceLike {
  id: string;
  object: 'bank_account' | 'account';
}

/** Anything a customer's or subscription's default_source can expand to. */
export type StripeCustomerSourceLike = StripeLegacyCardLike | StripeLegacySourceLike | StripeNonCardSourceLike;

/** Anything that can pay an invoice: a PaymentMethod or a legacy source. */
export type StripePaymentSourceLike = StripePaymentMethodLike | StripeCustomerSourceLike;

export interface StripeListLike<T> {
  data: T[];
  has_more?: boolean;
}

export interface StripeCustomerLike {
  id: string;
  object: 'customer';
  /** Absent on a live customer; the SDK types it `void`, hence the loose type. */
  deleted?: false | void;
  email: string | null;
  metadata: Record<string, string>;
  default_source: Expandable<StripeCustomerSourceLike>;
  invoice_settings: {
    default_payment_method: Expandable<StripePaymentMethodLike>;
  } | null;
  /** Only present when the caller expanded `sources`; lets a default_source id be resolved locally. */
  sources?: StripeListLike<StripeCustomerSourceLike> | null;
}

/** What Stripe returns for a deleted customer, on retrieval and inside expanded references. */
export interface StripeDeletedCustomerLike {
  id: string;
  object: 'customer';
  deleted: true;
}

/** Alias under the name the SDK uses. */
export type DeletedCustomer = StripeDeletedCustomerLike;

export interface StripeSubscriptionItemLike {
  id: string;
  /** Current API (2025+): the billing period lives on each item. */
  current_period_start?: number | null;
  current_period_end?: number | null;
  /** What the item sells; the product stays an id unless expanded. */
  price?: StripePriceLike | null;
}

export interface StripePriceLike {
  id: string;
  lookup_key?: string | null;
  product?: string | { id: string } | null;
}

export interface StripeProductLike {
  id: string;
  object: 'product';
  name?: string | null;
  active?: boolean;
  deleted?: boolean;
}

/** One entry of GET /v1/products/:id/features: the attached Entitlements feature, embedded. */
export interface StripeProductFeatureLike {
  id: string;
  object: 'product_feature';
  entitlement_feature: { id: string; lookup_key: string; active: boolean; name?: string | null };
}

export interface StripeSubscriptionLike {
  id: string;
  object: 'subscription';
  customer: string | StripeCustomerLike | StripeDeletedCustomerLike;
  /** Kept a string: Stripe adds statuses, and the projection decides what an unknown one means. */
  status: string;
  /** Seconds. */
  created: number;
  cancel_at_period_end: boolean;
  /** Legacy API (≤ 2025-02): the billing period lives on the subscription. Seconds. */
  current_period_end?: number | null;
  items: StripeListLike<StripeSubscriptionItemLike>;
  default_payment_method: Expandable<StripePaymentMethodLike>;
  default_source: Expandable<StripeCustomerSourceLike>;
  latest_invoice: Expandable<StripeInvoiceLike>;
}

export interface StripeInvoiceLike {
  id: string;
  object: 'invoice';
  customer: Expandable<StripeCustomerLike | StripeDeletedCustomerLike>;
  status: string | null;
  /** Seconds. */
  status_transitions?: {
    finalized_at?: number | null;
    paid_at?: number | null;
  } | null;
  /** Legacy API: the subscription this invoice bills. */
  subscription?: Expandable<StripeSubscriptionLike>;
  /** Current API: the subscription moved under parent.subscription_details. */
  parent?: {
    type: string;
    subscription_details?: {
      subscription: string | StripeSubscriptionLike;
    } | null;
  } | null;
}

/** The webhook envelope. `data.object` is left to the router to narrow by `type`. */
export interface StripeEventLike<T = StripeEventObjectLike> {
  id: string;
  object: 'event';
  type: string;
  api_version: string | null;
  /** Seconds. */
  created: number;
  livemode: boolean;
  data: {
    object: T;
    previous_attributes?: Record<string, unknown>;
  };
  request?: {
    id: string | null;
    idempotency_key: string | null;
  } | null;
}

export interface StripeEventObjectLike {
  object: string;
  id?: string;
}

export function isDeletedCustomer(
  customer: StripeCustomerLike | StripeDeletedCustomerLike,
): customer is StripeDeletedCustomerLike {
  return customer.deleted === true;
}
