/**
 * The Stripe API as subgate reads it: one customer with its default payment method and default source,
 * and all of that customer's subscriptions with theirs. A refresh asks for both in one request where it
 * can (readCustomer below): the subscription list with each subscription's customer expanded.
 * `STRIPE_API_BASE` points the SDK at another host (a local test double) through its host/port/protocol.
 * Every client sends through the shared request budget (stripe-http-client.ts).
 */
import Stripe from 'stripe';
import type { StripeRequestBudget } from '../store/stripe-request-budget.js';
import { createBudgetedHttpClient } from './stripe-http-client.js';
import type {
  StripeCustomerLike,
  StripeDeletedCustomerLike,
  StripeSubscriptionLike,
  StripePaymentMethodLike,
  StripeProductFeatureLike,
  StripeProductLike,
} from '../domain/stripe-shapes.js';

export interface StripeGateway {
  /** Throws StripeMissingError on 404. */
  fetchCustomer(customerId: string): Promise<StripeCustomerLike | StripeDeletedCustomerLike>;
  listSubscriptions(customerId: string): Promise<StripeSubscriptionLike[]>;
  /**
   * The customer and all its subscriptions, as fetchCustomer + listSubscriptions read them: one request
   * when the customer has a subscription (each one carries its customer, expanded), two when it has none
   * (or is deleted). Throws StripeMissingError on 404.
   */
  readCustomer(customerId: string): Promise<CustomerRead>;
  fetchPaymentMethod(paymentMethodId: string): Promise<StripePaymentMethodLike>;
  /** Throws StripeMissingError on 404. */
  fetchProduct(productId: string): Promise<StripeProductLike>;
  /** The Entitlements features attached to a product (all pages). */
  listProductFeatures(productId: string): Promise<StripeProductFeatureLike[]>;
}

export interface CustomerRead {
  customer: StripeCustomerLike | StripeDeletedCustomerLike;
  /** Empty for a deleted customer. */
  subscriptions: StripeSubscriptionLike[];
}

const CUSTOMER_EXPAND = ['invoice_settings.default_payment_method', 'default_source'];
const SUBSCRIPTION_EXPAND = ['default_payment_method', 'default_source', 'latest_invoice'];

export interface StripeClientSettings {
  secretKey: string;
  apiBase?: string | undefined;
  /** The SDK's own retries (each one takes a budget slot too); BullMQ's backoff does the long-haul retrying. */
  maxNetworkRetries?: number;
  timeoutMs?: number;
  /** Every request this client sends waits for a slot here first. */
  budget: StripeRequestBudget;
}

export function createStripeClient(settings: StripeClientSettings): Stripe {
  const base = settings.apiBase ? new URL(settings.apiBase) : null;
  return new Stripe(settings.secretKey, {
    maxNetworkRetries: settings.maxNetworkRetries ?? 1,
    timeout: settings.timeoutMs ?? 10_000,
    appInfo: { name: 'subgate' },
    telemetry: false,
    httpClient: createBudgetedHttpClient({ budget: settings.budget }),
    ...(base
      ? {
          host: base.hostname,
          port: base.port ? Number(base.port) : base.protocol === 'https:' ? 443 : 80,
          protocol: base.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
  });
}

/** A 404 from Stripe: the object is gone, a terminal outcome rather than something to retry. */
export function isStripeMissing(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeError && (err.statusCode === 404 || err.code === 'resource_missing');
}

export function isStripeRateLimited(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeRateLimitError || (err instanceof Stripe.errors.StripeError && err.statusCode === 429);
}

/** ms from Stripe's `Retry-After` on a refusal, when it sent one. */
export function stripeRetryAfterMs(err: unknown): number | null {
  if (!(err instanceof Stripe.errors.StripeError)) return null;
  const value = Number((err.headers as Record<string, unknown> | undefined)?.['retry-after']);
  return Number.isFinite(value) && value >= 0 ? value * 1000 : null;
}

/** Errors that no retry will fix (bad key, bad request): the job fails for a human to look at. */
export function isStripePermanent(err: unknown): boolean {
  return (
    err instanceof Stripe.errors.StripeAuthenticationError ||
    err instanceof Stripe.errors.StripePermissionError ||
    (err instanceof Stripe.errors.StripeInvalidRequestError && !isStripeMissing(err))
  );
}

export function createStripeGateway(stripe: Stripe): StripeGateway {
  const fetchCustomer = async (customerId: string) => {
    const customer = await stripe.customers.retrieve(customerId, { expand: CUSTOMER_EXPAND });
    return customer as unknown as StripeCustomerLike | StripeDeletedCustomerLike;
  };
  const listSubscriptions = async (customerId: string, withCustomer = false) => {
    const list = stripe.subscriptions.list({
      customer: customerId,
      status: 'all',
      limit: 100,
      // Four levels at most (Stripe's limit): data.customer.invoice_settings.default_payment_method is four.
      expand: [...SUBSCRIPTION_EXPAND, ...(withCustomer ? ['customer', ...CUSTOMER_EXPAND.map((p) => `customer.${p}`)] : [])].map((p) => `data.${p}`),
    });
    const subscriptions = await list.autoPagingToArray({ limit: 10_000 });
    return subscriptions as unknown as StripeSubscriptionLike[];
  };
  return {
    fetchCustomer,
    listSubscriptions: (customerId) => listSubscriptions(customerId),
    async readCustomer(customerId) {
      const subscriptions = await listSubscriptions(customerId, true);
      const carried = subscriptions[0]?.customer as unknown;
      if (typeof carried === 'object' && carried !== null && (carried as { id?: unknown }).id === customerId) {
        const customer = carried as StripeCustomerLike | StripeDeletedCustomerLike;
        if ('deleted' in customer && customer.deleted) return { customer, subscriptions: [] };
        // Each subscription keeps its customer as the id it always had: the projection reads it so.
        return { customer, subscriptions: subscriptions.map((s) => ({ ...s, customer: customerId })) };
      }
      // No subscription to carry it (or a customer not expanded): the customer on its own.
      const customer = await fetchCustomer(customerId);
      return { customer, subscriptions: 'deleted' in customer && customer.deleted ? [] : subscriptions };
    },
    async fetchPaymentMethod(paymentMethodId) {
      return (await stripe.paymentMethods.retrieve(paymentMethodId)) as unknown as StripePaymentMethodLike;
    },
    async fetchProduct(productId) {
      return (await stripe.products.retrieve(productId)) as unknown as StripeProductLike;
    },
    async listProductFeatures(productId) {
      const features = await stripe.products.listFeatures(productId, { limit: 100 }).autoPagingToArray({ limit: 10_000 });
      return features as unknown as StripeProductFeatureLike[];
    },
  };
}
