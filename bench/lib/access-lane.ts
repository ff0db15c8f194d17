/**
 * The access lane's figure: routine events queued (customer.subscription.created of other readers), then a
 * cancellation (customer.subscription.deleted) for one reader, all accepted as the webhook accepts them;
 * the real workers start with STRIPE_API_RATE_LIMIT=20 (the default) and the clock runs until that
 * reader's answer says not entitled. In process, on the harness (real composition, Stripe double).
 */
import { createHarness } from '../../test/support/harness.js';
import { seedReader } from '../../test/support/readers.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';

export interface AccessLaneFigures {
  routine: number;
  /** ms from the workers' start to the cancelled reader's answer changing. */
  changedAfterMs: number;
  /** Refreshes (subscription lists) that ran before the cancelled reader's. */
  refreshesBefore: number;
  timedOut: boolean;
}

export async function measureAccessLane(opts: { redisUrl: string; routine: number; timeoutMs: number }): Promise<AccessLaneFigures> {
  const h = await createHarness({ label: 'access-lane', redisUrl: opts.redisUrl, workers: false, stripeRequestsPerSecond: 20, debounceMs: 500 });
  try {
    const sec = () => Math.floor(h.clock.now() / 1000);
    const event = (type: string, object: object) => h.stripe.makeEvent(type, object as never) as unknown as StripeEventLike;
    const target = seedReader(h.stripe, { nowSeconds: sec() });
    await h.syncCustomer(target.customer.id);
    const routine = Array.from({ length: opts.routine }, () => seedReader(h.stripe, { nowSeconds: sec() }));
    for (let i = 0; i < routine.length; i += 500) {
      await Promise.all(routine.slice(i, i + 500).map(({ subscription }) => h.api.acceptEvent(event('customer.subscription.created', h.stripe.getSubscription(subscription.id)!), h.clock.now())));
    }
    const ended = { ...h.stripe.getSubscription(target.subscription.id)!, status: 'canceled', ended_at: sec(), canceled_at: sec() };
    h.stripe.putSubscription(ended);
    await h.api.acceptEvent(event('customer.subscription.deleted', ended), h.clock.now());
    h.stripe.resetRequests();
    const started = performance.now();
    h.startWorkers();
    let timedOut = false;
    for (;;) {
      if ((await h.entitlement({ customer: target.customer.id })).body.entitled === false) break;
      if (performance.now() - started > opts.timeoutMs) {
        timedOut = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const changedAfterMs = performance.now() - started;
    const lists = h.stripe.requests.filter((r) => r.method === 'GET' && r.path === '/v1/subscriptions').map((r) => String(r.query.customer));
    return { routine: opts.routine, changedAfterMs, refreshesBefore: lists.indexOf(target.customer.id), timedOut };
  } finally {
    await h.close();
  }
}
