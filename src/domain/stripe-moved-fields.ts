/**
 * The Stripe fields that moved between API versions, and the only code that reads them where either
 * version keeps them. Stripe renders an API answer in the request's version (the SDK's pinned one, so
 * current shapes) and a webhook in the endpoint's version (as old as 2020-08-27 on long-lived endpoints),
 * so anything that reads a payload must accept both:
 *
 *   what                       legacy (2020-08-27 … 2025-02)            current (2025-03-31 and later)
 *   subscription of an invoice invoice.subscription                     invoice.parent.subscription_details.subscription
 *   billing period end         subscription.current_period_end          subscription.items.data[].current_period_end
 *   payment of an invoice      invoice.charge, invoice.payment_intent   invoice.payments.data[].payment.payment_intent|charge
 *                              (ids in webhooks)                        (an includable list: never in webhooks,
 *                                                                        only with expand[]=payments…)
 *
 * A charge no longer names its invoice at all, so nothing here reads `charge.invoice`. Pure: reads what it
 * is given; a payment it cannot see is reported as unknown for the caller to look up.
 */

import { num, obj, str, type Json } from './json-read.js';
import { idOf } from './stripe-ids.js';

/** The subscription an invoice bills, or null for a one-off invoice. */
export function invoiceSubscriptionId(invoice: unknown): string | null {
  const object = obj(invoice);
  if (object === null) return null;
  return idOf(obj(obj(object.parent)?.subscription_details)?.subscription) ?? idOf(object.subscription);
}

/** When the current billing period ends, in Stripe's seconds: on the subscription (legacy), else the latest item end. */
export function subscriptionPeriodEnd(subscription: unknown): number | null {
  const object = obj(subscription);
  if (object === null) return null;
  const legacy = num(object.current_period_end);
  if (legacy !== null) return legacy;
  const items = obj(object.items)?.data;
  const ends = (Array.isArray(items) ? items : []).map((item) => num(obj(item)?.current_period_end)).filter((end): end is number => end !== null);
  return ends.length > 0 ? Math.max(...ends) : null;
}

/** What a failed payment says about itself. Every field is null when the object at hand does not say. */
export interface PaymentFailure {
  /** The issuer's decline code ('expired_card', 'insufficient_funds', …) or the error code. */
  declineCode: string | null;
  chargeId: string | null;
  /** The declined card (pm_… or a card source) and the expiry it was charged with. */
  cardId: string | null;
  exp_month: number | null;
  exp_year: number | null;
}

export const UNKNOWN_FAILURE: PaymentFailure = Object.freeze({ declineCode: null, chargeId: null, cardId: null, exp_month: null, exp_year: null });

/** `known` filled in with what `more` says and `known` does not. */
export function combineFailures(known: PaymentFailure, more: PaymentFailure): PaymentFailure {
  return {
    declineCode: known.declineCode ?? more.declineCode,
    chargeId: known.chargeId ?? more.chargeId,
    cardId: known.cardId ?? more.cardId,
    exp_month: known.exp_month ?? more.exp_month,
    exp_year: known.exp_year ?? more.exp_year,
  };
}

/**
 * A failed charge (same fields in every version): `failure_code` ('expired_card' is a code there) or the
 * outcome's reason, the card it tried, and the expiry it tried it with.
 */
export function chargeFailure(charge: unknown): PaymentFailure {
  const object = obj(charge);
  if (object === null) return { ...UNKNOWN_FAILURE, chargeId: idOf(charge) };
  const card = obj(obj(object.payment_method_details)?.card);
  const failureCode = str(object.failure_code);
  const reason = str(obj(object.outcome)?.reason);
  return {
    declineCode: failureCode === 'expired_card' || reason === 'expired_card' ? 'expired_card' : (failureCode ?? reason),
    chargeId: idOf(object.id),
    cardId: idOf(object.payment_method) ?? idOf(object.source),
    exp_month: num(card?.exp_month),
    exp_year: num(card?.exp_year),
  };
}

/**
 * A payment intent whose attempt failed: `last_payment_error` holds the decline and the payment method it
 * declined (a whole PaymentMethod, card expiry included); `latest_charge` the charge, expanded or not.
 */
export function paymentIntentFailure(paymentIntent: unknown): PaymentFailure {
  const object = obj(paymentIntent);
  if (object === null) return UNKNOWN_FAILURE;
  const error = obj(object.last_payment_error);
  const method = obj(error?.payment_method);
  const card = obj(method?.card);
  const own: PaymentFailure = {
    declineCode: str(error?.decline_code) ?? str(error?.code),
    chargeId: idOf(object.latest_charge) ?? idOf(error?.charge),
    cardId: idOf(method) ?? idOf(object.payment_method),
    exp_month: num(card?.exp_month),
    exp_year: num(card?.exp_year),
  };
  const latest = obj(object.latest_charge);
  return latest ? combineFailures(own, chargeFailure(latest)) : own;
}

/**
 * The failed payment of an invoice, from what the invoice carries: its expanded payments (current API; the
 * default payment first, then the newest), or its charge / payment intent (legacy API; ids in webhooks).
 */
export function invoicePaymentFailure(invoice: unknown): PaymentFailure {
  const object = obj(invoice);
  if (object === null) return UNKNOWN_FAILURE;
  const payments = obj(object.payments)?.data;
  if (Array.isArray(payments)) {
    const ordered = payments
      .map((entry) => obj(entry))
      .filter((entry): entry is Json => entry !== null)
      .sort((a, b) => Number(b.is_default === true) - Number(a.is_default === true) || (num(b.created) ?? 0) - (num(a.created) ?? 0));
    const failures = ordered.map((entry) => {
      const payment = obj(entry.payment);
      return obj(payment?.payment_intent) ? paymentIntentFailure(payment?.payment_intent) : chargeFailure(payment?.charge ?? null);
    });
    return failures.find((failure) => failure.declineCode !== null) ?? failures[0] ?? UNKNOWN_FAILURE;
  }
  const fromCharge = object.charge === undefined || object.charge === null ? UNKNOWN_FAILURE : chargeFailure(object.charge);
  return combineFailures(fromCharge, paymentIntentFailure(object.payment_intent));
}
