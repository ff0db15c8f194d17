/**
 * The Stripe calls of card expiry and recovery, beside the read-only gateway of the sync: re-read one card
 * before flagging it, look up a charge's decline code, open a Billing Portal session on the card-update
 * flow, and make a new card count (set it on subscriptions, pay the open invoice).
 */
import type Stripe from 'stripe';
import type { StripePaymentSourceLike } from '../domain/stripe-shapes.js';
import { idOf } from '../domain/stripe-ids.js';

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
  createPortalSession(input: { customerId: string; returnUrl: string }): Promise<{ id: string; url: string }>;
  setSubscriptionCard(subscriptionId: string, cardId: string): Promise<void>;
  listOpenInvoices(customerId: string): Promise<OpenInvoice[]>;
  /** Pays an open invoice with what the subscription now charges; a card decline is an outcome, not a throw. */
  payInvoice(invoiceId: string, idempotencyKey: string): Promise<PayOutcome>;
}

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
      return invoices.map((invoice) => {
        const raw = invoice as unknown as { subscription?: unknown; parent?: { subscription_details?: { subscription?: unknown } | null } | null };
        return { id: invoice.id ?? '', subscriptionId: idOf(raw.parent?.subscription_details?.subscription) ?? idOf(raw.subscription) };
      }).filter((invoice) => invoice.id !== '');
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
