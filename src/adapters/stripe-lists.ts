/**
 * Stripe's two list streams a resync walks, with the SDK's auto-pagination (100 per page, newest first),
 * expanded so no per-customer request is needed: customers with their default payment method and default
 * source, and every subscription (any status) with its payment method, source and latest invoice.
 * Also the events stream missed-event recovery reads. Each stream starts after a cursor, so a caller
 * that stopped can pick up at its last page.
 */
import type Stripe from 'stripe';
import type { StripeCustomerLike, StripeEventLike, StripeSubscriptionLike } from '../domain/stripe-shapes.js';

export const STRIPE_PAGE_SIZE = 100;

export interface StripeLists {
  customers(startingAfter: string | null): AsyncIterable<StripeCustomerLike>;
  subscriptions(startingAfter: string | null): AsyncIterable<StripeSubscriptionLike>;
  /** Events created at or after `sinceSeconds`, newest first. */
  events(sinceSeconds: number): AsyncIterable<StripeEventLike>;
}

export function createStripeLists(stripe: Stripe): StripeLists {
  const after = (cursor: string | null) => (cursor ? { starting_after: cursor } : {});
  return {
    customers(startingAfter) {
      return stripe.customers.list({
        limit: STRIPE_PAGE_SIZE,
        expand: ['data.invoice_settings.default_payment_method', 'data.default_source'],
        ...after(startingAfter),
      }) as unknown as AsyncIterable<StripeCustomerLike>;
    },
    subscriptions(startingAfter) {
      return stripe.subscriptions.list({
        limit: STRIPE_PAGE_SIZE,
        status: 'all',
        expand: ['data.default_payment_method', 'data.default_source', 'data.latest_invoice'],
        ...after(startingAfter),
      }) as unknown as AsyncIterable<StripeSubscriptionLike>;
    },
    events(sinceSeconds) {
      return stripe.events.list({ limit: STRIPE_PAGE_SIZE, created: { gte: sinceSeconds } }) as unknown as AsyncIterable<StripeEventLike>;
    },
  };
}

/** Failures worth waiting out: 429, Stripe 5xx, and the network. Anything else no retry will fix. */
export function isStripeTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { type?: string; statusCode?: number };
  if (e.type === 'StripeRateLimitError' || e.type === 'StripeConnectionError' || e.type === 'StripeAPIError') return true;
  return typeof e.statusCode === 'number' && (e.statusCode === 429 || e.statusCode >= 500);
}
