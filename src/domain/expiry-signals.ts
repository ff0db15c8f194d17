/**
 * Events that say something about a card's expiry right away, before any refresh: an issuer decline with
 * `expired_card`, Stripe's `customer.source.expiring`, and an invoice paid (which may prove an expired
 * card still pays). Everything else about cards arrives through the refresh the event also triggers.
 * Pure: reads only the payload, in either API version (stripe-moved-fields.ts knows where each keeps what);
 * a decline the payload does not carry is reported as unknown, for the caller to look up.
 */
import type { StripeEventLike } from './stripe-shapes.js';
import { customerIdOf, idOf } from './stripe-ids.js';
import { num, obj, type Json } from './json-read.js';
import { chargeFailure, invoicePaymentFailure, invoiceSubscriptionId } from './stripe-moved-fields.js';

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
      /** invoice.payment_failed or invoice.payment_action_required. */
      kind: 'invoice_payment_failed';
      customerId: string;
      invoiceId: string;
      /**
       * 'expired_card', another code, or null when the payload does not say: then a legacy payload names
       * the charge to read (`chargeId`), and a current one names nothing (read the invoice's payments).
       */
      declineCode: string | null;
      chargeId: string | null;
      /** The declined card and its expiry, when the payload carried them (absent in older jobs). */
      cardId?: string | null;
      exp_month?: number | null;
      exp_year?: number | null;
      at: number;
    }
  | { kind: 'source_expiring'; customerId: string; cardId: string; exp_month: number; exp_year: number }
  | { kind: 'invoice_paid'; customerId: string; invoiceId: string; subscriptionId: string | null; paidAt: number };

const SECOND_MS = 1000;


export function readExpirySignal(event: StripeEventLike): ExpirySignal | null {
  const object = event.data.object as unknown as Json;
  const customerId = customerIdOf(object.customer);
  if (customerId === null) return null;
  const at = event.created * SECOND_MS;

  switch (event.type) {
    case 'charge.failed': {
      const failure = chargeFailure(object);
      if (failure.declineCode !== 'expired_card') return null;
      return { kind: 'expired_decline', customerId, cardId: failure.cardId, exp_month: failure.exp_month, exp_year: failure.exp_year, at };
    }
    case 'invoice.payment_failed':
    case 'invoice.payment_action_required': {
      const invoiceId = idOf(object.id);
      if (invoiceId === null) return null;
      const failure = invoicePaymentFailure(object);
      return {
        kind: 'invoice_payment_failed',
        customerId,
        invoiceId,
        declineCode: failure.declineCode,
        chargeId: failure.chargeId,
        cardId: failure.cardId,
        exp_month: failure.exp_month,
        exp_year: failure.exp_year,
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
