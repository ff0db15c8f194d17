import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createHarness, WEBHOOK_SECRET, type Harness } from '../support/harness.js';
import { refreshReadOf, seedReader } from '../support/readers.js';
import { waitFor } from '../support/redis.js';
import { JOB } from '../../src/queues.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);

describe('event processing under load, faults and races', () => {
  let h: Harness;
  const sec = () => Math.floor(h.clock.now() / 1000);
  const customerReads = (id: string) => h.stripe.count(refreshReadOf(id));

  before(async () => {
    // A debounce long enough that a burst posted back to back lands inside one window.
    h = await createHarness({ label: 'processing', clockStart: START, debounceMs: 300 });
  });
  afterEach(() => {
    h.stripe.clearFaults();
    h.stripe.setLatency(0);
  });
  after(async () => {
    await h.close();
  });

  test('a burst of 50 events about one customer makes at most two Stripe refreshes', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    h.stripe.resetRequests();
    const sub = h.stripe.getSubscription(subscription.id)!;
    const types = ['customer.subscription.updated', 'invoice.paid', 'payment_method.attached', 'customer.updated'];
    const events = Array.from({ length: 50 }, (_, i) =>
      h.stripe.makeEvent(types[i % types.length]!, i % 4 === 3 ? h.stripe.getCustomer(customer.id)! : { ...sub, object: 'subscription' }, { created: sec() }),
    );
    const responses = await Promise.all(events.map((e) => h.deliver(e)));
    assert.ok(responses.every((r) => r.status === 200));
    await h.settle();
    const refreshes = customerReads(customer.id);
    assert.ok(refreshes >= 1 && refreshes <= 2, `refreshes: ${refreshes}`);
    assert.equal((await h.entitlement({ customer: customer.id })).body.status, 'active');
  });

  test('a 429 from Stripe backs off and the refresh still lands', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    h.stripe.resetRequests();
    h.stripe.failNext(2, { status: 429, match: refreshReadOf(customer.id) });
    await h.deliver(h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(subscription.id)!));
    await waitFor(async () => (await h.entitlement({ customer: customer.id })).body.status === 'active', {
      timeoutMs: 15_000,
      message: 'refresh after 429s',
    });
    const statuses = h.stripe.requests.filter(refreshReadOf(customer.id)).map((r) => r.status);
    assert.deepEqual(statuses, [429, 429, 200]);
  });

  test('a 500 from Stripe is retried with backoff', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    h.stripe.resetRequests();
    h.stripe.failNext(1, { status: 500, match: (r) => r.method === 'GET' && r.path === '/v1/subscriptions' && r.query.customer === customer.id });
    await h.deliver(h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(subscription.id)!));
    await waitFor(async () => (await h.entitlement({ customer: customer.id })).body.status === 'active', {
      timeoutMs: 15_000,
      message: 'refresh after a 500',
    });
    const statuses = h.stripe.requests.filter((r) => r.method === 'GET' && r.path === '/v1/subscriptions' && r.query.customer === customer.id).map((r) => r.status);
    assert.deepEqual(statuses, [500, 200], 'the 500 was served, and the refresh that landed is its retry');
  });

  test('a snapshot read earlier never overwrites a later one (two syncs racing)', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    // Sync A reads first but slowly; meanwhile the subscription is canceled and sync B reads that, fast.
    h.stripe.setLatency(400);
    const slow = h.syncCustomer(customer.id);
    await waitFor(() => h.stripe.count(refreshReadOf(customer.id)) >= 1, { message: 'A in flight' });
    h.stripe.setLatency(0);
    h.clock.advance(1000);
    h.stripe.putSubscription({ ...h.stripe.getSubscription(subscription.id)!, status: 'canceled' });
    assert.equal(await h.syncCustomer(customer.id), 'written');
    assert.equal(await slow, 'stale');
    assert.equal((await h.entitlement({ customer: customer.id })).body.status, 'canceled');
  });

  test('two worker sets on one customer at once converge on Stripe\'s truth', async () => {
    const second = h.startWorkers({ debounceMs: 0 });
    try {
      const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
      const sub = h.stripe.getSubscription(subscription.id)!;
      await Promise.all(
        Array.from({ length: 10 }, () => h.deliver(h.stripe.makeEvent('customer.subscription.updated', sub, { created: sec() }))),
      );
      h.stripe.putSubscription({ ...sub, status: 'past_due' });
      await Promise.all(
        Array.from({ length: 10 }, () => h.deliver(h.stripe.makeEvent('invoice.payment_failed', { object: 'invoice', id: 'in_x', customer: customer.id }))),
      );
      await h.settle();
      assert.equal((await h.entitlement({ customer: customer.id })).body.status, 'grace_period');
    } finally {
      await second.close();
    }
  });

  test('a poison event lands in the failed set with its reason and does not block the queue', async () => {
    await h.queues.stripeEvents.add(JOB.stripeEvent, { event: { id: 'evt_poison', type: 'invoice.paid' } as never, receivedAt: h.clock.now() }, { jobId: 'evt_poison', attempts: 3 });
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    await h.deliver(h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(subscription.id)!));
    await h.settle();
    assert.equal((await h.entitlement({ customer: customer.id })).body.status, 'active');
    const poison = await h.queues.stripeEvents.getJob('evt_poison');
    assert.equal(await poison?.getState(), 'failed');
    assert.match(poison?.failedReason ?? '', /malformed event/);
    assert.equal(poison?.attemptsMade, 1, 'not retried: no retry can fix it');
  });

  test('a validly signed event nested 10,000 deep is acknowledged, stored, processed as what it is, and a redelivery is a duplicate', async () => {
    const { customer } = seedReader(h.stripe, { nowSeconds: sec() });
    const event = h.stripe.makeEvent('customer.updated', { ...h.stripe.getCustomer(customer.id)!, nested: '__DEEP__' });
    const payload = JSON.stringify(event).replace('"__DEEP__"', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`);
    assert.ok(payload.length < 1024 * 1024);
    const post = () =>
      request(h.app)
        .post('/webhooks/stripe')
        .set('Content-Type', 'application/json')
        .set('Stripe-Signature', h.stripe.signPayload(payload, WEBHOOK_SECRET, { timestamp: sec() }))
        .send(payload);

    const first = await post();
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { received: true });
    assert.ok(await h.queues.stripeEvents.getJob(event.id), 'its job is stored');
    await h.settle();
    const job = await h.queues.stripeEvents.getJob(event.id);
    assert.deepEqual(job?.returnvalue, { outcome: 'sync_requested', customerId: customer.id });
    assert.equal((await h.entitlement({ customer: customer.id })).body.status, 'active');
    const again = await post();
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
  });

  test('a job queued before digests (carrying the whole event) is still processed', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    const event = h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(subscription.id)!);
    // As a build from before digests added it: the whole event, under its id.
    await h.queues.stripeEvents.add(JOB.stripeEvent, { event: event as never, receivedAt: h.clock.now() }, { jobId: event.id });
    await h.settle();
    assert.deepEqual((await h.queues.stripeEvents.getJob(event.id))?.returnvalue, { outcome: 'sync_requested', customerId: customer.id });
    assert.equal((await h.entitlement({ customer: customer.id })).body.status, 'active');
  });

  test('a handled event that names no customer is counted, not retried', async () => {
    const res = await h.deliver(h.stripe.makeEvent('setup_intent.succeeded', { id: 'seti_1', object: 'setup_intent', customer: null }));
    assert.equal(res.status, 200);
    await h.settle();
    assert.ok(((await h.ledger.counts())['setup_intent.succeeded|no_customer'] ?? 0) >= 1);
  });

  test('a customer id longer than a Stripe id (255 characters) is no customer: counted, no refresh job', async () => {
    const before = (await h.ledger.counts())['customer.updated|no_customer'] ?? 0;
    const tooLong = `cus_${'a'.repeat(200_000)}`;
    const res = await h.deliver(h.stripe.makeEvent('customer.updated', { id: tooLong, object: 'customer', email: null, metadata: {} }));
    assert.equal(res.status, 200);
    await h.settle();
    assert.equal((await h.ledger.counts())['customer.updated|no_customer'], before + 1);
    const syncJobs = await h.queues.customerSync.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed']);
    assert.ok(!syncJobs.some((job) => job.data.customerId.length > 255), 'no refresh job for the long id');
  });
});
