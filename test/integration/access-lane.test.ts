import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { seedReader } from '../support/readers.js';
import { waitFor } from '../support/redis.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);
const ROUTINE = 1500;

/**
 * An access-changing event queued behind a backlog of routine ones, with Stripe's default request budget
 * (STRIPE_API_RATE_LIMIT=20): the order of the Stripe reads the refreshes made says which ran first.
 */
describe('access-changing events jump the queue', () => {
  let h: Harness;
  const sec = () => Math.floor(h.clock.now() / 1000);

  before(async () => {
    h = await createHarness({ label: 'access-lane', workers: false, clockStart: START, stripeRequestsPerSecond: 20 });
  });
  after(async () => {
    await h.close();
  });

  test('a cancellation behind 1,500 routine events is refreshed before the backlog', async () => {
    const target = seedReader(h.stripe, { nowSeconds: sec() });
    assert.equal(await h.syncCustomer(target.customer.id), 'written');
    assert.equal((await h.entitlement({ customer: target.customer.id })).body.entitled, true);

    // The backlog: new subscriptions (routine) of other readers, accepted as the webhook accepts them.
    const routine = Array.from({ length: ROUTINE }, () => seedReader(h.stripe, { nowSeconds: sec() }));
    for (let i = 0; i < routine.length; i += 100) {
      await Promise.all(
        routine.slice(i, i + 100).map(({ subscription }) =>
          h.api.acceptEvent(h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(subscription.id)!) as unknown as StripeEventLike, h.clock.now()),
        ),
      );
    }
    // Then the target's subscription ends, and its event is queued last.
    const ended = { ...h.stripe.getSubscription(target.subscription.id)!, status: 'canceled', ended_at: sec(), canceled_at: sec() };
    h.stripe.putSubscription(ended);
    assert.equal(await h.api.acceptEvent(h.stripe.makeEvent('customer.subscription.deleted', ended) as unknown as StripeEventLike, h.clock.now()), 'accepted');

    h.stripe.resetRequests();
    h.startWorkers();
    await waitFor(async () => (await h.entitlement({ customer: target.customer.id })).body.entitled === false, {
      timeoutMs: 30_000,
      message: 'the cancellation to reach the answer',
    });

    // One subscription list per refresh (each carries its customer): their order is the refreshes' order.
    // The target's came after at most the refreshes already running or due when its event was routed
    // (4 workers), not after the backlog.
    const reads = h.stripe.requests.filter((r) => r.method === 'GET' && r.path === '/v1/subscriptions').map((r) => String(r.query.customer));
    const targetAt = reads.indexOf(target.customer.id);
    assert.ok(targetAt >= 0, 'the target was refreshed');
    assert.ok(targetAt <= 8, `routine refreshes before the cancellation's: ${targetAt}`);
    assert.ok(reads.length < ROUTINE / 2, `the backlog was still being worked through (${reads.length} refreshes ran)`);
  });
});
