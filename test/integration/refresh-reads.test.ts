import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { refreshReadOf, seedReader } from '../support/readers.js';
import { subscriptionFixture } from '../fixtures/stripe-objects.js';
import { projectCustomer } from '../../src/domain/stripe-projection.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);

/** What one refresh costs in Stripe requests, and that folding two reads into one changes no projection. */
describe('a refresh reads Stripe in one request where it can', () => {
  let h: Harness;
  const sec = () => Math.floor(h.clock.now() / 1000);

  before(async () => {
    h = await createHarness({ label: 'refresh-reads', workers: false, clockStart: START });
  });
  after(async () => {
    await h.close();
  });

  test('a customer with subscriptions (one canceled): one subscription list, the same projection as the two reads give', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    h.stripe.putSubscription(subscriptionFixture({ customer: customer.id, status: 'canceled', current_period_start: sec() - 90 * 86_400, current_period_end: sec() - 60 * 86_400 }));
    h.stripe.resetRequests();
    const read = await h.gateway.readCustomer(customer.id);
    assert.deepEqual(h.stripe.requests.map((r) => `${r.method} ${r.path}`), ['GET /v1/subscriptions']);
    assert.ok(refreshReadOf(customer.id)(h.stripe.requests[0]!));
    assert.equal(read.subscriptions.length, 2, 'canceled subscriptions are read too (status=all)');
    assert.ok(read.subscriptions.some((s) => s.id === subscription.id));

    const separate = { customer: await h.gateway.fetchCustomer(customer.id), subscriptions: await h.gateway.listSubscriptions(customer.id) };
    const project = (input: typeof read) => projectCustomer({ ...input, readAt: h.clock.now(), userIdMetadataKey: 'user_id', previous: null });
    assert.deepEqual(project(read), project(separate));
  });

  test('a customer with no subscription: the list, then the customer on its own', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    h.stripe.forget(subscription.id);
    h.stripe.resetRequests();
    const read = await h.gateway.readCustomer(customer.id);
    assert.deepEqual(h.stripe.requests.map((r) => `${r.method} ${r.path}`), ['GET /v1/subscriptions', `GET /v1/customers/${customer.id}`]);
    assert.equal(read.customer.id, customer.id);
    assert.deepEqual(read.subscriptions, []);
    assert.equal(await h.syncCustomer(customer.id), 'written');
    assert.equal((await h.entitlement({ customer: customer.id })).body.reason, 'no_subscription');
  });

  test('a deleted customer whose subscriptions remain listed is recorded as deleted', async () => {
    const { customer } = seedReader(h.stripe, { nowSeconds: sec() });
    h.stripe.deleteCustomer(customer.id, { cancelSubscriptions: false });
    const read = await h.gateway.readCustomer(customer.id);
    assert.equal((read.customer as { deleted?: boolean }).deleted, true);
    assert.deepEqual(read.subscriptions, []);
    assert.equal(await h.syncCustomer(customer.id), 'written');
    assert.equal((await h.entitlement({ customer: customer.id })).body.reason, 'customer_deleted');
  });
});
