/**
 * Turns one Stripe read (a customer and its subscriptions) into subgate's CustomerProjection: which card pays
 * a subscription, when its billing period ends, and when it started failing. Everything downstream reads the
 * projection, never Stripe's objects. Seconds become milliseconds here and nowhere else; fields that moved
 * between API versions are read through stripe-moved-fields.ts.
 */

import { tryCardExpiresAt } from './card-expiry.js';
import type {
  CardSnapshot,
  CustomerProjection,
  ProductSnapshot,
  SubscriptionItemSnapshot,
  SubscriptionSnapshot,
  SubscriptionStatus,
} from './projection.js';
import type {
  Expandable,
  StripeCustomerLike,
  StripeDeletedCustomerLike,
  StripeLegacyCardLike,
  StripeLegacySourceLike,
  StripePaymentSourceLike,
  StripeSubscriptionLike,
} from './stripe-shapes.js';
import { isDeletedCustomer } from './stripe-shapes.js';
import { idOf } from './stripe-ids.js';
import { subscriptionPeriodEnd } from './stripe-moved-fields.js';

export interface ProjectCustomerInput {
  customer: StripeCustomerLike | StripeDeletedCustomerLike;
  subscriptions: readonly StripeSubscriptionLike[];
  /** ms; when the Stripe read began. */
  readAt: number;
  userIdMetadataKey: string;
  previous: CustomerProjection | null;
  /**
   * Payment methods and sources fetched separately because they arrived as bare ids (see
   * unresolvedPaymentRefs). Optional: without them those cards are simply unknown.
   */
  paymentSources?: readonly StripePaymentSourceLike[];
  /**
   * The product catalog's entries for the products the items point at (names, and features from Stripe
   * Entitlements). Only when configured: without it the projection carries no `products`.
   */
  products?: Readonly<Record<string, ProductSnapshot>>;
}

const KNOWN_STATUSES: ReadonlySet<string> = new Set<SubscriptionStatus>([
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'canceled',
  'unpaid',
  'paused',
]);

/** Legacy sources spell brands for display; PaymentMethods use these codes. One spelling downstream. */
const LEGACY_BRAND_CODES: Readonly<Record<string, string>> = {
  'american express': 'amex',
  'diners club': 'diners',
  'eftpos australia': 'eftpos_au',
  'cartes bancaires': 'cartes_bancaires',
};

const SECOND_MS = 1000;

/** Projects a live or deleted customer from one Stripe read. */
export function projectCustomer(input: ProjectCustomerInput): CustomerProjection {
  const { customer, readAt, previous } = input;
  if (isDeletedCustomer(customer)) return projectMissingCustomer(customer.id, readAt, previous);

  const resolve = buildResolver(customer, input.paymentSources ?? []);
  const defaultCard = resolveCard(customerDefaultRef(customer), resolve);
  const subscriptions = input.subscriptions
    // A subscription of another customer must never grant this one access, whatever the caller passed.
    .filter((subscription) => idOf(subscription.customer) === customer.id)
    .map((subscription) => projectSubscription(subscription, customer, resolve, readAt, previous))
    .sort(compareNewestFirst);

  return {
    customer: customer.id,
    user: readUserId(customer.metadata, input.userIdMetadataKey),
    email: nonEmptyOrNull(customer.email),
    deleted: false,
    default_card: defaultCard,
    subscriptions,
    read_at: readAt,
    ...(input.products ? { products: productsFor(subscriptions, input.products) } : {}),
  };
}

/**
 * What each item sells: its price id, the price's lookup_key and the product (an id, or the expanded
 * product's id). An item without a price (never in the pinned API) sells nothing and is left out.
 */
export function subscriptionItems(subscription: StripeSubscriptionLike): SubscriptionItemSnapshot[] {
  const items: SubscriptionItemSnapshot[] = [];
  for (const item of subscription.items?.data ?? []) {
    const price = item.price;
    if (price === null || price === undefined || typeof price !== 'object') continue;
    items.push({
      price: typeof price.id === 'string' ? price.id : null,
      lookup_key: typeof price.lookup_key === 'string' && price.lookup_key !== '' ? price.lookup_key : null,
      product: idOf(price.product ?? null),
    });
  }
  return items;
}

/** The product ids these subscriptions' items sell, sorted (what the catalog is asked for). */
export function soldProducts(subscriptions: readonly StripeSubscriptionLike[]): string[] {
  const ids = subscriptions.flatMap((s) => subscriptionItems(s).map((item) => item.product).filter((p): p is string => p !== null));
  return [...new Set(ids)].sort();
}

/** The catalog entries of the products these subscriptions point at; one unknown to the catalog is unnamed and grants nothing. */
function productsFor(
  subscriptions: readonly SubscriptionSnapshot[],
  catalog: Readonly<Record<string, ProductSnapshot>>,
): Record<string, ProductSnapshot> {
  const out: Record<string, ProductSnapshot> = {};
  for (const subscription of subscriptions) {
    for (const item of subscription.items ?? []) {
      if (item.product === null) continue;
      const entry = Object.hasOwn(catalog, item.product) ? catalog[item.product]! : { name: null, features: null };
      out[item.product] = { name: entry.name, features: entry.features === null ? null : [...entry.features] };
    }
  }
  return out;
}

/**
 * The projection recorded when Stripe says a customer is gone (deleted, or 404). Stripe cancels a deleted
 * customer's subscriptions, so none are kept. The publisher's user id is carried over from `previous` so
 * a lookup by user still finds the terminal "customer_deleted" answer; the email is dropped, since
 * deletion is often a privacy request.
 */
export function projectMissingCustomer(
  id: string,
  readAt: number,
  previous: CustomerProjection | null,
): CustomerProjection {
  return {
    customer: id,
    user: previous?.user ?? null,
    email: null,
    deleted: true,
    default_card: null,
    subscriptions: [],
    read_at: readAt,
  };
}

/**
 * Ids of payment methods or sources that decide a card (a subscription's, or the customer's default) but
 * arrived unexpanded and cannot be resolved from what is at hand. The caller fetches these and passes
 * them back as `paymentSources`. Ids shadowed by a higher-precedence reference are not listed.
 */
export function unresolvedPaymentRefs(
  input: Pick<ProjectCustomerInput, 'customer' | 'subscriptions' | 'paymentSources'>,
): string[] {
  const { customer } = input;
  if (isDeletedCustomer(customer)) return [];
  const resolve = buildResolver(customer, input.paymentSources ?? []);
  const refs = [
    customerDefaultRef(customer),
    ...input.subscriptions
      .filter((subscription) => idOf(subscription.customer) === customer.id)
      .map((subscription) => subscriptionPaymentRef(subscription, customer)),
  ];
  const unresolved = refs.filter((ref): ref is string => typeof ref === 'string' && resolve(ref) === null);
  return [...new Set(unresolved)];
}

/**
 * The card a PaymentMethod or legacy source represents, or null if it is not a card (SEPA, bank account)
 * or its card data is incomplete or nonsensical (an unknown card is better than a wrong expiry).
 */
export function cardFromPaymentSource(source: StripePaymentSourceLike): CardSnapshot | null {
  switch (source.object) {
    case 'payment_method':
      if (source.type !== 'card' || !source.card) return null;
      return buildCard(source.id, source.card.brand, source.card.last4, source.card.exp_month, source.card.exp_year);
    case 'card':
      return cardFromLegacyCard(source);
    case 'source':
      return cardFromLegacySource(source);
    default:
      return null;
  }
}

/** Lowercases a legacy display brand ("Visa", "American Express") to the PaymentMethod code ("visa", "amex"). */
export function normalizeCardBrand(brand: string): string {
  const lower = brand.trim().toLowerCase();
  return LEGACY_BRAND_CODES[lower] ?? lower.replace(/\s+/g, '_');
}

type PaymentRef = Expandable<StripePaymentSourceLike>;
type Resolver = (id: string) => StripePaymentSourceLike | null;

function projectSubscription(
  subscription: StripeSubscriptionLike,
  customer: StripeCustomerLike,
  resolve: Resolver,
  readAt: number,
  previous: CustomerProjection | null,
): SubscriptionSnapshot {
  const status = readStatus(subscription.status);
  return {
    id: subscription.id,
    status,
    current_period_end: readCurrentPeriodEnd(subscription),
    cancel_at_period_end: subscription.cancel_at_period_end === true,
    card: resolveCard(subscriptionPaymentRef(subscription, customer), resolve),
    past_due_since: status === 'past_due' ? derivePastDueSince(subscription, readAt, previous) : null,
    created: subscription.created * SECOND_MS,
    items: subscriptionItems(subscription),
  };
}

/**
 * An unknown status (Stripe adds them) is read as 'incomplete': not entitled, and visibly not a normal
 * state. Failing closed costs a reader access until the code learns the status; failing open would give
 * content away indefinitely.
 */
function readStatus(status: string): SubscriptionStatus {
  return KNOWN_STATUSES.has(status) ? (status as SubscriptionStatus) : 'incomplete';
}

/** Where the period end lives depends on the API version (stripe-moved-fields.ts); seconds become ms here. */
function readCurrentPeriodEnd(subscription: StripeSubscriptionLike): number | null {
  const end = subscriptionPeriodEnd(subscription);
  return end === null ? null : end * SECOND_MS;
}

/**
 * When the payment failure began, so the grace period does not restart on every refresh. The earliest
 * credible candidate wins: a previous snapshot that already saw it past_due, the failing invoice's
 * finalization, and at the latest this read itself (never a future instant).
 */
function derivePastDueSince(
  subscription: StripeSubscriptionLike,
  readAt: number,
  previous: CustomerProjection | null,
): number {
  const candidates = [readAt];
  const before = previous?.subscriptions.find((snapshot) => snapshot.id === subscription.id);
  if (before?.status === 'past_due' && before.past_due_since !== null) candidates.push(before.past_due_since);
  const invoice = subscription.latest_invoice;
  const finalizedAt = typeof invoice === 'object' && invoice !== null ? invoice.status_transitions?.finalized_at : null;
  if (typeof finalizedAt === 'number') candidates.push(finalizedAt * SECOND_MS);
  return Math.min(...candidates);
}

/** Stripe's precedence for what an invoice of this subscription charges: the first reference set wins. */
function subscriptionPaymentRef(subscription: StripeSubscriptionLike, customer: StripeCustomerLike): PaymentRef {
  return subscription.default_payment_method ?? subscription.default_source ?? customerDefaultRef(customer);
}

function customerDefaultRef(customer: StripeCustomerLike): PaymentRef {
  return customer.invoice_settings?.default_payment_method ?? customer.default_source ?? null;
}

/**
 * A reference that is set but cannot be resolved yields null rather than falling through to a lower
 * precedence card: Stripe would charge the referenced method, so any other card would be the wrong one.
 */
function resolveCard(ref: PaymentRef, resolve: Resolver): CardSnapshot | null {
  if (ref === null) return null;
  const source = typeof ref === 'string' ? resolve(ref) : ref;
  return source === null ? null : cardFromPaymentSource(source);
}

function buildResolver(customer: StripeCustomerLike, fetched: readonly StripePaymentSourceLike[]): Resolver {
  const byId = new Map<string, StripePaymentSourceLike>();
  for (const source of customer.sources?.data ?? []) byId.set(source.id, source);
  for (const source of fetched) byId.set(source.id, source);
  return (id) => byId.get(id) ?? null;
}

function cardFromLegacyCard(card: StripeLegacyCardLike): CardSnapshot | null {
  return buildCard(card.id, card.brand, card.last4, card.exp_month, card.exp_year);
}

function cardFromLegacySource(source: StripeLegacySourceLike): CardSnapshot | null {
  const card = source.card;
  if (source.type !== 'card' || !card) return null;
  const { brand, last4, exp_month, exp_year } = card;
  if (typeof brand !== 'string' || typeof last4 !== 'string') return null;
  if (typeof exp_month !== 'number' || typeof exp_year !== 'number') return null;
  return buildCard(source.id, brand, last4, exp_month, exp_year);
}

function buildCard(id: string, brand: string, last4: string, exp_month: number, exp_year: number): CardSnapshot | null {
  if (tryCardExpiresAt(exp_month, exp_year) === null) return null;
  return { id, brand: normalizeCardBrand(brand), last4, exp_month, exp_year };
}

function readUserId(metadata: Record<string, string> | null | undefined, key: string): string | null {
  const value = metadata?.[key];
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function nonEmptyOrNull(value: string | null | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function compareNewestFirst(a: SubscriptionSnapshot, b: SubscriptionSnapshot): number {
  return b.created - a.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
