/**
 * Puts a reader into the Stripe double the way Checkout would leave one: a customer carrying the
 * publisher's user id, a default card, and one subscription. Tests then change Stripe's truth and
 * deliver the event Stripe would send.
 */
import {
  cardPaymentMethodFixture,
  customerFixture,
  subscriptionFixture,
  type SubscriptionStatus,
} from '../fixtures/stripe-objects.js';
import type { RecordedRequest, StripeDouble } from './stripe-double.js';

/**
 * The request a refresh of this customer opens with: its subscription list, each subscription carrying
 * the customer expanded (one request for a customer with a subscription; the customer is read on its
 * own only when there is none).
 */
export const refreshReadOf =
  (customerId: string) =>
  (r: RecordedRequest): boolean =>
    r.method === 'GET' && r.path === '/v1/subscriptions' && r.query.customer === customerId;

export interface ReaderOptions {
  userId?: string;
  status?: SubscriptionStatus;
  exp_month?: number;
  exp_year?: number;
  last4?: string;
  /** Seconds; defaults to 20 days after `nowSeconds`. */
  current_period_end?: number;
  nowSeconds: number;
}

export function seedReader(stripe: StripeDouble, opts: ReaderOptions) {
  const customer = stripe.putCustomer(customerFixture({ metadata: opts.userId ? { user_id: opts.userId } : {} }));
  const card = stripe.putPaymentMethod(
    cardPaymentMethodFixture({
      customer: customer.id,
      exp_month: opts.exp_month ?? 12,
      exp_year: opts.exp_year ?? 2030,
      last4: opts.last4 ?? '4242',
    }),
  );
  customer.invoice_settings = { ...customer.invoice_settings, default_payment_method: card.id };
  stripe.putCustomer(customer);
  const subscription = stripe.putSubscription(
    subscriptionFixture({
      customer: customer.id,
      status: opts.status ?? 'active',
      current_period_start: opts.nowSeconds - 10 * 86_400,
      current_period_end: opts.current_period_end ?? opts.nowSeconds + 20 * 86_400,
    }),
  );
  return { customer, card, subscription };
}
