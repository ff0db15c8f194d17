/**
 * Events that say something about a card's expiry right away, before any refresh: an issuer decline with
 * `expired_card`, Stripe's `customer.source.expiring`, and an invoice paid (which may prove an expired
 * card still pays). Everything else about cards arrives through the refresh the event also triggers.
 * Pure: reads only the payload; a decline code the payload does not carry is reported as unknown, for the
 * caller to look up.
 */
import type { StripeEventLike } from './stripe-shapes.js';
import { customerIdOf, idOf } from './stripe-ids.js';

export type ExpirySignal =
  | {
      kind: 'expired_decline';
      customerId: string;
      /** The declined card; expiry when the payload carries it (charge.payment_method_details.card). */
      cardId: string | null;
      exp_month: number | null;
      exp_year: number | null;
      /** ms */
      at: number;
    }
  | {
      kind: 'invoice_payment_failed';
      customerId: string;
      invoiceId: string;
      /** 'expired_card', another code, or null when the payload does not say (look at `chargeId`). */
      declineCode: string | null;
      chargeId: string | null;
      at: number;
    }
  | { kind: 'source_expiring'; customerId: string; cardId: string; exp_month: number; exp_year: number }
  | { kind: 'invoice_paid'; customerId: string; invoiceId: string; subscriptionId: string | null; paidAt: number };

type Json = Record<string, unknown>;

const SECOND_MS = 1000;

const obj = (value: unknown): Json | null => (typeof value === 'object' && value !== null ? (value as Json) : null);
const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** The decline code of a charge: `failure_code` ('expired_card' is a code there) or the outcome's reason. */
export function chargeDeclineCode(charge: Json): string | null {
  return str(charge.failure_code) ?? str(obj(charge.outcome)?.reason) ?? null;
}

/** The decline code an invoice payload carries, when its charge or payment intent came expanded. */
function invoiceDeclineCode(invoice: Json): string | null {
  const charge = obj(invoice.charge);
  if (charge) return chargeDeclineCode(charge);
  const error = obj(obj(invoice.payment_intent)?.last_payment_error) ?? obj(invoice.last_payment_error);
  if (error) return str(error.decline_code) ?? str(error.code);
  return null;
}

function invoiceSubscriptionId(invoice: Json): string | null {
  return idOf(obj(obj(invoice.parent)?.subscription_details)?.subscription) ?? idOf(invoice.subscription);
}

export function readExpirySignal(event: StripeEventLike): ExpirySignal | null {
  const object = event.data.object as unknown as Json;
  const customerId = customerIdOf(object.customer);
  if (customerId === null) return null;
  const at = event.created * SECOND_MS;

  switch (event.type) {
    case 'charge.failed': {
      if (chargeDeclineCode(object) !== 'expired_card') return null;
      const card = obj(obj(object.payment_method_details)?.card);
      return {
        kind: 'expired_decline',
        customerId,
        cardId: idOf(object.payment_method) ?? idOf(object.source),
        exp_month: num(card?.exp_month),
        exp_year: num(card?.exp_year),
        at,
      };
    }
    case 'invoice.payment_failed': {
      const invoiceId = idOf(object.id);
      if (invoiceId === null) return null;
      return {
        kind: 'invoice_payment_failed',
        customerId,
        invoiceId,
        declineCode: invoiceDeclineCode(object),
        chargeId: typeof object.charge === 'string' ? idOf(object.charge) : null,
        at,
      };
    }
    case 'customer.source.expiring': {
      const cardId = idOf(object.id);
      const card = object.object === 'source' ? obj(object.card) : object;
      const exp_month = num(card?.exp_month);
      const exp_year = num(card?.exp_year);
      if (cardId === null || exp_month === null || exp_year === null) return null;
      return { kind: 'source_expiring', customerId, cardId, exp_month, exp_year };
    }
    case 'invoice.paid':
    case 'invoice.payment_succeeded': {
      const invoiceId = idOf(object.id);
      if (invoiceId === null || object.status !== 'paid') return null;
      const paidAt = num(obj(object.status_transitions)?.paid_at);
      return {
        kind: 'invoice_paid',
        customerId,
        invoiceId,
        subscriptionId: invoiceSubscriptionId(object),
        paidAt: paidAt === null ? at : paidAt * SECOND_MS,
      };
    }
    default:
      return null;
  }
}
