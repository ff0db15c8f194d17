import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { refreshReadOf, seedReader } from '../support/readers.js';
import { waitFor } from '../support/redis.js';
import { createStripeRequestBudget } from '../../src/store/stripe-request-budget.js';

describe('when Stripe refuses a refresh for rate (429)', () => {
  let h: Harness;
  const sec = () => Math.floor(h.clock.now() / 1000);
  const syncJobOf = async (customerId: string) =>
    (await h.queues.customerSync.getJobs(['delayed', 'waiting', 'prioritized', 'active', 'completed'])).find((job) => job.data.customerId === customerId);

  before(async () => {
    h = await createHarness({ label: 'rate-limits' });
  });
  afterEach(() => h.stripe.clearFaults());
  after(async () => {
    await h.close();
  });

  test('only that customer waits, for as long as Retry-After says, and other refreshes go on', async () => {
    const slow = seedReader(h.stripe, { nowSeconds: sec() });
    const other = seedReader(h.stripe, { nowSeconds: sec() });
    const slowRead = refreshReadOf(slow.customer.id);
    h.stripe.failNext(1, { status: 429, retryAfter: 30, match: slowRead });

    await h.deliver(h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(slow.subscription.id)!));
    await waitFor(() => h.stripe.requests.some((r) => slowRead(r) && r.status === 429), { message: 'the 429' });
    await h.deliver(h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(other.subscription.id)!));
    await waitFor(async () => (await h.entitlement({ customer: other.customer.id })).body.status === 'active', {
      message: 'the other customer current',
    });

    const waiting = await syncJobOf(slow.customer.id);
    assert.equal(await waiting?.getState(), 'delayed');
    assert.ok((waiting?.delay ?? 0) >= 29_000, `delayed ${waiting?.delay} ms, Retry-After was 30 s`);
    assert.equal(waiting?.attemptsMade, 0, 'a rate refusal spends no attempt');
    assert.equal((await h.entitlement({ customer: slow.customer.id })).body.status, 'none');

    await waiting!.promote();
    await waitFor(async () => (await h.entitlement({ customer: slow.customer.id })).body.status === 'active', {
      message: 'the refused customer current once its time comes',
    });
  });

  test('a refresh with no slot of the request budget in sight waits among the delayed jobs, spending no attempt', async () => {
    const reader = seedReader(h.stripe, { nowSeconds: sec() });
    // Other processes hold the next 10 s of a 1-request-per-second budget.
    const crowd = createStripeRequestBudget({ redis: h.workerRedis, prefix: h.prefix, requestsPerSecond: 1 });
    for (let i = 0; i < 10; i++) await crowd.reserve(Number.MAX_SAFE_INTEGER);
    h.stripe.resetRequests();

    await h.deliver(h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(reader.subscription.id)!));
    const waiting = await waitFor(
      async () => {
        const job = await syncJobOf(reader.customer.id);
        return job && (await job.getState()) === 'delayed' && job.attemptsStarted > 0 ? job : null;
      },
      { message: 'the refresh to be put back' },
    );
    assert.equal(waiting?.attemptsMade, 0, 'no slot spends no attempt');
    assert.equal(h.stripe.count(refreshReadOf(reader.customer.id)), 0, 'nothing was sent without a slot');
  });
});
