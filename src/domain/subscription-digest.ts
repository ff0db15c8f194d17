/**
 * A subscription cut down to the fields the projection reads (see stripe-shapes.ts), for a resync that
 * stages every subscription before it walks the customers: an expanded subscription from a list is
 * kilobytes (its latest invoice carries line items), its digest a few hundred bytes.
 */
import type {
  Expandable,
  StripeCustomerSourceLike,
  StripeInvoiceLike,
  StripePaymentMethodLike,
  StripeSubscriptionLike,
} from './stripe-shapes.js';
import { idOf } from './stripe-ids.js';

type AnyObject = Record<string, unknown>;

function pick(source: AnyObject, keys: readonly string[]): AnyObject {
  const out: AnyObject = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

/** A payment method or source: its identity and card fields, never a billing address or fingerprint. */
function digestPaymentRef<T>(ref: Expandable<T>): Expandable<T> {
  if (ref === null || typeof ref === 'string') return ref;
  const value = ref as AnyObject;
  const out = pick(value, ['id', 'object', 'type', 'brand', 'last4', 'exp_month', 'exp_year']);
  const card = value.card;
  if (card && typeof card === 'object') out.card = pick(card as AnyObject, ['brand', 'last4', 'exp_month', 'exp_year']);
  return out as T;
}

function digestInvoice(ref: Expandable<StripeInvoiceLike>): Expandable<StripeInvoiceLike> {
  if (ref === null || typeof ref === 'string') return ref;
  return {
    id: ref.id,
    object: 'invoice',
    customer: idOf(ref.customer),
    status: ref.status,
    status_transitions: ref.status_transitions ? pick(ref.status_transitions as AnyObject, ['finalized_at', 'paid_at']) : null,
  };
}

/** An item: its period and what it sells (price id, lookup_key, product id). */
function digestItem(item: AnyObject): AnyObject {
  const out = pick(item, ['id', 'current_period_start', 'current_period_end']);
  const price = item.price;
  if (price && typeof price === 'object') {
    const p = price as AnyObject;
    out.price = { id: p.id, lookup_key: p.lookup_key ?? null, product: idOf(p.product ?? null) };
  }
  return out;
}

export function digestSubscription(subscription: StripeSubscriptionLike): StripeSubscriptionLike {
  return {
    id: subscription.id,
    object: 'subscription',
    customer: idOf(subscription.customer) ?? '',
    status: subscription.status,
    created: subscription.created,
    cancel_at_period_end: subscription.cancel_at_period_end,
    ...(subscription.current_period_end !== undefined ? { current_period_end: subscription.current_period_end } : {}),
    items: {
      data: (subscription.items?.data ?? []).map((item) => digestItem(item as unknown as AnyObject)) as unknown as StripeSubscriptionLike['items']['data'],
    },
    default_payment_method: digestPaymentRef<StripePaymentMethodLike>(subscription.default_payment_method),
    default_source: digestPaymentRef<StripeCustomerSourceLike>(subscription.default_source),
    latest_invoice: digestInvoice(subscription.latest_invoice),
  };
}

/** The customer a subscription belongs to, whether or not it came expanded. */
export function subscriptionCustomerId(subscription: StripeSubscriptionLike): string | null {
  return idOf(subscription.customer);
}
