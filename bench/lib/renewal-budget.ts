/**
 * Stripe calls per 1,000 events of the renewal mix, through the real path: each event accepted as the
 * webhook accepts it (ledger claim + enqueue), the real workers (stripe-events processor, debounced
 * refreshes, card signals) on a Redis of the caller's, the real SDK against the Stripe double, which
 * counts what it was asked. Two arrival patterns bound what production sees:
 *   burst   all seven events of a customer's renewal arrive within one debounce window (coalesced)
 *   spread  each event arrives after the previous one was fully worked (no coalescing: the worst case,
 *           and close to Stripe's real timing, where an invoice is finalized about an hour after it is created)
 */
import { createHarness } from '../../test/support/harness.js';
import { seedReader } from '../../test/support/readers.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';

export const RENEWAL_MIX = [
  'invoice.created',
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_succeeded',
  'customer.subscription.updated',
  'charge.succeeded',
  'payment_intent.succeeded',
] as const;

export interface RenewalBudget {
  pattern: 'burst' | 'spread';
  events: number;
  stripeRequests: number;
  perThousandEvents: number;
  /** Stripe requests by route, e.g. `GET /v1/customers/:id`. */
  byRoute: Record<string, number>;
}

export async function measureRenewalBudget(opts: { redisUrl: string; customers: number; pattern: 'burst' | 'spread'; debounceMs: number }): Promise<RenewalBudget> {
  const h = await createHarness({ label: `renewal-${opts.pattern}`, redisUrl: opts.redisUrl, debounceMs: opts.debounceMs, stripeRequestsPerSecond: 10_000 });
  try {
    const now = Math.floor(h.clock.now() / 1000);
    const readers = Array.from({ length: opts.customers }, () => seedReader(h.stripe, { nowSeconds: now }));
    const eventsOf = (reader: (typeof readers)[number], type: string): StripeEventLike => {
      const sub = h.stripe.getSubscription(reader.subscription.id)!;
      const customer = reader.customer.id;
      const object =
        type === 'customer.subscription.updated'
          ? { ...sub, object: 'subscription' }
          : type.startsWith('invoice.')
            ? { id: `in_${customer}`, object: 'invoice', customer, parent: { type: 'subscription_details', subscription_details: { subscription: sub.id } }, status: type === 'invoice.created' ? 'draft' : type === 'invoice.finalized' ? 'open' : 'paid' }
            : type === 'charge.succeeded'
              ? { id: `ch_${customer}`, object: 'charge', customer, status: 'succeeded' }
              : { id: `pi_${customer}`, object: 'payment_intent', customer, status: 'succeeded' };
      return h.stripe.makeEvent(type, object as never, { created: now }) as unknown as StripeEventLike;
    };
    const accept = (events: StripeEventLike[]) => Promise.all(events.map((e) => h.api.acceptEvent(e, h.clock.now())));
    h.stripe.resetRequests();
    let events = 0;
    if (opts.pattern === 'burst') {
      for (const reader of readers) {
        await accept(RENEWAL_MIX.map((type) => eventsOf(reader, type)));
        events += RENEWAL_MIX.length;
      }
      await h.settle(120_000);
    } else {
      for (const type of RENEWAL_MIX) {
        await accept(readers.map((reader) => eventsOf(reader, type)));
        events += readers.length;
        await h.settle(120_000);
        // Past the debounce and any keep-last follower, so the next wave cannot coalesce with this one.
        await new Promise((resolve) => setTimeout(resolve, opts.debounceMs + 50));
        await h.settle(120_000);
      }
    }
    const byRoute: Record<string, number> = {};
    for (const r of h.stripe.requests) byRoute[r.route ?? `${r.method} ${r.path}`] = (byRoute[r.route ?? `${r.method} ${r.path}`] ?? 0) + 1;
    const stripeRequests = h.stripe.requests.length;
    return { pattern: opts.pattern, events, stripeRequests, perThousandEvents: (stripeRequests * 1000) / events, byRoute };
  } finally {
    await h.close();
  }
}
