/**
 * The Stripe calls of card expiry and recovery, beside the read-only gateway of the sync: re-read one card
 * before flagging it, look up a failed payment's decline (a legacy payload's charge, or a current invoice's
 * payments), open a Billing Portal session on the card-update flow, and make a new card count (set it on
 * subscriptions, pay the open invoice).
 */
import type Stripe from 'stripe';
import type { StripePaymentSourceLike } from '../domain/stripe-shapes.js';
import { idOf } from '../domain/stripe-ids.js';
import { invoiceSubscriptionId } from '../domain/stripe-moved-fields.js';

export interface FetchedCard {
  source: StripePaymentSourceLike;
  /** The customer it is attached to now (null when detached). */
  customerId: string | null;
}

export interface OpenInvoice {
  id: string;
  subscriptionId: string | null;
}

export type PayOutcome = { paid: true } | { paid: false; declineCode: string };

export interface StripeBilling {
  /** A PaymentMethod (pm_…) or a legacy card source of the customer; throws the SDK's 404 when gone. */
  fetchCard(customerId: string, cardId: string): Promise<FetchedCard>;
  fetchCharge(chargeId: string): Promise<Record<string, unknown>>;
  /**
   * The invoice with its payments and each one's payment intent expanded (one request): where the current
   * API keeps a failed invoice's decline (`last_payment_error`) and charge (`latest_charge`).
   */
  fetchInvoicePayments(invoiceId: string): Promise<Record<string, unknown>>;
  createPortalSession(input: { customerId: string; returnUrl: string }): Promise<{ id: string; url: string }>;
  setSubscriptionCard(subscriptionId: string, cardId: string): Promise<void>;
  listOpenInvoices(customerId: string): Promise<OpenInvoice[]>;
  /** Pays an open invoice with what the subscription now charges; a card decline is an outcome, not a throw. */
  payInvoice(invoiceId: string, idempotencyKey: string): Promise<PayOutcome>;
}

/** Stripe expands at most four levels: payments › data › payment › payment_intent is the deepest it allows. */
const INVOICE_PAYMENTS_EXPAND = ['payments.data.payment.payment_intent'];

export function createStripeBilling(stripe: Stripe): StripeBilling {
  return {
    async fetchCard(customerId, cardId) {
      if (cardId.startsWith('pm_')) {
        const pm = await stripe.paymentMethods.retrieve(cardId);
        return { source: pm as unknown as StripePaymentSourceLike, customerId: idOf(pm.customer) };
      }
      const source = await stripe.customers.retrieveSource(customerId, cardId);
      return { source: source as unknown as StripePaymentSourceLike, customerId: idOf((source as { customer?: unknown }).customer) };
    },
    async fetchCharge(chargeId) {
      return (await stripe.charges.retrieve(chargeId)) as unknown as Record<string, unknown>;
    },
    async fetchInvoicePayments(invoiceId) {
      return (await stripe.invoices.retrieve(invoiceId, { expand: INVOICE_PAYMENTS_EXPAND })) as unknown as Record<string, unknown>;
    },
    async createPortalSession({ customerId, returnUrl }) {
      const session = await stripe.billingPortal.sessions.create({
        customer: customerId,
        return_url: returnUrl,
        flow_data: {
          type: 'payment_method_update',
          after_completion: { type: 'redirect', redirect: { return_url: returnUrl } },
        },
      });
      return { id: session.id, url: session.url };
    },
    async setSubscriptionCard(subscriptionId, cardId) {
      // A PaymentMethod goes in default_payment_method; a legacy card source in default_source.
      const params: Stripe.SubscriptionUpdateParams = cardId.startsWith('pm_')
        ? { default_payment_method: cardId }
        : { default_source: cardId };
      await stripe.subscriptions.update(subscriptionId, params);
    },
    async listOpenInvoices(customerId) {
      const invoices = await stripe.invoices.list({ customer: customerId, status: 'open', limit: 100 }).autoPagingToArray({ limit: 1000 });
      return invoices
        .map((invoice) => ({ id: invoice.id ?? '', subscriptionId: invoiceSubscriptionId(invoice) }))
        .filter((invoice) => invoice.id !== '');
    },
    async payInvoice(invoiceId, idempotencyKey) {
      try {
        await stripe.invoices.pay(invoiceId, {}, { idempotencyKey });
        return { paid: true };
      } catch (err) {
        const e = err as { type?: unknown; code?: unknown; decline_code?: unknown; raw?: { decline_code?: unknown } };
        if (e?.type === 'StripeCardError') {
          const code = typeof e.decline_code === 'string' ? e.decline_code : typeof e.code === 'string' ? e.code : 'card_declined';
          return { paid: false, declineCode: code };
        }
        throw err;
      }
    },
  };
}
