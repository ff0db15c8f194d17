/**
 * Bench data: customers with mixed statuses as Stripe objects (for the Stripe double) and as the
 * projections subgate derives from them (through the real projectCustomer), and pools of distinct,
 * validly signed ~3 KB webhook events.
 */
import Stripe from 'stripe';
import { projectCustomer } from '../../src/domain/stripe-projection.js';
import type { CustomerProjection } from '../../src/domain/projection.js';
import type { StripeCustomerLike, StripeSubscriptionLike } from '../../src/domain/stripe-shapes.js';
import {
  addMonths,
  cardPaymentMethodFixture,
  customerFixture,
  eventFixture,
  subscriptionFixture,
  type CustomerObject,
  type PaymentMethodObject,
  type SubscriptionObject,
  type SubscriptionStatus,
} from '../../test/fixtures/stripe-objects.js';

/** Deterministic PRNG (mulberry32), so every run benchmarks the same mix. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BenchCustomer {
  id: string;
  user: string | null;
  customer: CustomerObject;
  paymentMethod: PaymentMethodObject;
  subscriptions: SubscriptionObject[];
  projection: CustomerProjection;
}

type Kind = { status: SubscriptionStatus; expiredCard?: boolean; cancelAtPeriodEnd?: boolean } | null;

/** The status mix: mostly paying readers, with every access-affecting state represented. */
const MIX: Array<[upTo: number, kind: Kind]> = [
  [0.6, { status: 'active' }],
  [0.68, { status: 'trialing' }],
  [0.76, { status: 'past_due' }],
  [0.84, { status: 'canceled' }],
  [0.87, { status: 'unpaid' }],
  [0.89, { status: 'paused' }],
  [0.91, { status: 'incomplete' }],
  [0.95, { status: 'active', expiredCard: true }],
  [0.97, { status: 'active', cancelAtPeriodEnd: true }],
  [1, null],
];

const DAY_S = 86_400;

export function makeCustomers(count: number, seed = 6, nowMs = Date.now()): BenchCustomer[] {
  const random = seededRandom(seed);
  const now = Math.floor(nowMs / 1000);
  const nowDate = new Date(nowMs);
  const out: BenchCustomer[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    const kind = MIX.find(([upTo]) => r < upTo)![1];
    const user = random() < 0.95 ? `user-${i}` : null;
    const customer = customerFixture({ created: now - Math.floor(random() * 400) * DAY_S, metadata: user ? { user_id: user } : {} });
    const expired = kind?.expiredCard === true || random() < 0.02;
    const paymentMethod = cardPaymentMethodFixture({
      customer: customer.id,
      brand: random() < 0.7 ? 'visa' : 'mastercard',
      last4: String(1000 + Math.floor(random() * 9000)),
      exp_month: 1 + Math.floor(random() * 12),
      exp_year: expired ? nowDate.getUTCFullYear() - 1 : nowDate.getUTCFullYear() + 1 + Math.floor(random() * 4),
    });
    customer.invoice_settings.default_payment_method = paymentMethod.id;

    const subscriptions: SubscriptionObject[] = [];
    if (kind) {
      const ended = kind.status === 'canceled';
      const start = ended ? now - (40 + Math.floor(random() * 200)) * DAY_S : now - Math.floor(random() * 28) * DAY_S;
      subscriptions.push(
        subscriptionFixture({
          customer: customer.id,
          status: kind.status,
          created: start - Math.floor(random() * 300) * DAY_S,
          current_period_start: start,
          current_period_end: addMonths(start, 1),
          cancel_at_period_end: kind.cancelAtPeriodEnd === true,
        }),
      );
    }
    if (random() < 0.1) {
      // An older, ended subscription, as returning readers have.
      const start = now - (400 + Math.floor(random() * 300)) * DAY_S;
      subscriptions.push(subscriptionFixture({ customer: customer.id, status: 'canceled', created: start, current_period_start: start, current_period_end: addMonths(start, 1) }));
    }

    const expandedCustomer = { ...customer, invoice_settings: { ...customer.invoice_settings, default_payment_method: paymentMethod } };
    const projection = projectCustomer({
      customer: expandedCustomer as unknown as StripeCustomerLike,
      subscriptions: subscriptions as unknown as StripeSubscriptionLike[],
      readAt: nowMs,
      userIdMetadataKey: 'user_id',
      previous: null,
    });
    out.push({ id: customer.id, user, customer, paymentMethod, subscriptions, projection });
  }
  return out;
}

export interface SignedEvent {
  id: string;
  payload: string;
  header: string;
}

const TARGET_EVENT_BYTES = 3072;

/**
 * A template for `customer.subscription.updated` with Stripe's full subscription object, as compact JSON
 * (Stripe's own 2-space layout would make it 4.6 KB) padded with subscription metadata to about 3 KB,
 * with placeholders for the event id and the customer.
 */
function eventTemplate(): string[] {
  const subscription = subscriptionFixture({ customer: '@@CUS@@', id: 'sub_@@SUB@@', status: 'past_due' });
  const event = eventFixture('customer.subscription.updated', subscription, {
    id: 'evt_@@EVT@@',
    previous_attributes: { status: 'active', latest_invoice: 'in_1PreviousInvoice0000' },
  });
  let text = JSON.stringify(event);
  const pad = TARGET_EVENT_BYTES - Buffer.byteLength(text) - 40;
  if (pad > 0) {
    subscription.metadata = { plan_note: 'x'.repeat(pad) };
    text = JSON.stringify(event);
  }
  return text.split(/@@(EVT|CUS|SUB)@@/);
}

/**
 * `count` distinct events, for `customers` in turn, each signed with `secret` at `timestampS` the way
 * Stripe signs (the SDK's own header generator). `tag` (letters and digits) keeps ids distinct across pools.
 */
export function signedEventPool(count: number, customers: readonly string[], secret: string, tag: string, timestampS = Math.floor(Date.now() / 1000)): SignedEvent[] {
  const parts = eventTemplate();
  const out: SignedEvent[] = [];
  for (let i = 0; i < count; i++) {
    const seq = `${tag}${String(i).padStart(7, '0')}`;
    const customer = customers[i % customers.length]!;
    const payload = parts.map((part, j) => (j % 2 === 0 ? part : part === 'EVT' ? seq : part === 'CUS' ? customer : seq)).join('');
    out.push({ id: `evt_${seq}`, payload, header: Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: timestampS }) });
  }
  return out;
}
