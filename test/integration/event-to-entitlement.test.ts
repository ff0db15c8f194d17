import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { seedReader } from '../support/readers.js';
import { cardPaymentMethodFixture, invoiceFixture, LEGACY_API_VERSION } from '../fixtures/stripe-objects.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);
const DAY = 86_400_000;

/** Every status transition end to end: Stripe's truth changes, a signed webhook arrives, the answer moves. */
describe('from a signed webhook to the entitlement answer', () => {
  let h: Harness;
  const sec = () => Math.floor(h.clock.now() / 1000);

  before(async () => {
    h = await createHarness({ label: 'e2e', clockStart: START });
  });
  after(async () => {
    await h.close();
  });

  async function deliverAndSettle(type: string, object: Record<string, unknown>, opts: { previous_attributes?: Record<string, unknown>; api_version?: string } = {}) {
    const res = await h.deliver(h.stripe.makeEvent(type, object, { created: sec(), ...opts }));
    assert.equal(res.status, 200);
    await h.settle();
  }
  const status = async (customer: string) => (await h.entitlement({ customer })).body;

  test('a new subscriber becomes active, with the card shown', async () => {
    const { customer, subscription } = seedReader(h.stripe, { userId: 'reader-1', nowSeconds: sec() });
    assert.equal((await status(customer.id)).status, 'none');
    await deliverAndSettle('customer.subscription.created', h.stripe.getSubscription(subscription.id)!);
    const body = await status(customer.id);
    assert.equal(body.status, 'active');
    assert.equal(body.entitled, true);
    assert.equal(body.user, 'reader-1');
    assert.deepEqual(body.card, { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030, expired: false });
    assert.equal((await h.entitlement({ user: 'reader-1' })).body.customer, customer.id);
  });

  test('a trial is entitled as trialing', async () => {
    const { customer, subscription } = seedReader(h.stripe, { status: 'trialing', nowSeconds: sec() });
    await deliverAndSettle('customer.subscription.created', h.stripe.getSubscription(subscription.id)!);
    assert.deepEqual([(await status(customer.id)).status, (await status(customer.id)).entitled], ['trialing', true]);
  });

  test('a failed renewal gives a grace period, then payment_failed; a new card restores access', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    await deliverAndSettle('customer.subscription.created', h.stripe.getSubscription(subscription.id)!);

    const invoice = h.stripe.putInvoice(
      invoiceFixture({ customer: customer.id, subscription: subscription.id, status: 'open', attempt_count: 1, created: sec() }),
    );
    h.stripe.putSubscription({ ...h.stripe.getSubscription(subscription.id)!, status: 'past_due', latest_invoice: invoice.id });
    await deliverAndSettle('invoice.payment_failed', invoice);
    let body = await status(customer.id);
    assert.equal(body.status, 'grace_period');
    assert.equal(body.entitled, true);
    assert.equal(body.reason, 'payment_failed_grace');
    assert.ok(body.grace_until, 'grace_until is given');

    h.clock.advance(8 * DAY);
    body = await status(customer.id);
    assert.equal(body.status, 'payment_failed');
    assert.equal(body.entitled, false);

    const fresh = h.stripe.putPaymentMethod(cardPaymentMethodFixture({ customer: customer.id, last4: '1881', exp_year: 2031 }));
    h.stripe.putCustomer({
      ...h.stripe.getCustomer(customer.id)!,
      invoice_settings: { ...h.stripe.getCustomer(customer.id)!.invoice_settings, default_payment_method: fresh.id },
    });
    h.stripe.putInvoice({ ...h.stripe.getInvoice(invoice.id)!, status: 'paid' });
    h.stripe.putSubscription({ ...h.stripe.getSubscription(subscription.id)!, status: 'active' });
    await deliverAndSettle('invoice.paid', h.stripe.getInvoice(invoice.id)!);
    body = await status(customer.id);
    assert.equal(body.status, 'active');
    assert.equal(body.card.last4, '1881');
  });

  test('a card that expires turns access off at the first instant of the next month, with no event', async () => {
    h.clock.set(Date.UTC(2026, 11, 31, 23, 59, 59));
    const { customer, subscription } = seedReader(h.stripe, { exp_month: 12, exp_year: 2026, nowSeconds: sec() });
    await deliverAndSettle('customer.subscription.created', h.stripe.getSubscription(subscription.id)!);
    assert.equal((await status(customer.id)).status, 'active');
    h.clock.set(Date.UTC(2027, 0, 1, 0, 0, 0));
    const body = await status(customer.id);
    assert.equal(body.status, 'card_expired');
    assert.equal(body.entitled, false);
    assert.equal(body.card.expired, true);
    h.clock.set(START);
  });

  test('unpaid is payment_failed; paused is paused; incomplete is incomplete', async () => {
    for (const [stripeStatus, expected] of [
      ['unpaid', 'payment_failed'],
      ['paused', 'paused'],
      ['incomplete', 'incomplete'],
    ] as const) {
      const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
      h.stripe.putSubscription({ ...h.stripe.getSubscription(subscription.id)!, status: stripeStatus });
      await deliverAndSettle('customer.subscription.updated', h.stripe.getSubscription(subscription.id)!);
      const body = await status(customer.id);
      assert.equal(body.status, expected, stripeStatus);
      assert.equal(body.entitled, false);
    }
  });

  test('a cancellation ends access', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    await deliverAndSettle('customer.subscription.created', h.stripe.getSubscription(subscription.id)!);
    h.stripe.putSubscription({ ...h.stripe.getSubscription(subscription.id)!, status: 'canceled', canceled_at: sec(), ended_at: sec() });
    await deliverAndSettle('customer.subscription.deleted', h.stripe.getSubscription(subscription.id)!);
    const body = await status(customer.id);
    assert.equal(body.status, 'canceled');
    assert.equal(body.entitled, false);
  });

  test('a deleted customer is recorded once, and answers none', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    await deliverAndSettle('customer.subscription.created', h.stripe.getSubscription(subscription.id)!);
    h.stripe.deleteCustomer(customer.id, { cancelSubscriptions: true });
    await deliverAndSettle('customer.deleted', { id: customer.id, object: 'customer' });
    const body = await status(customer.id);
    assert.equal(body.status, 'none');
    assert.equal(body.reason, 'customer_deleted');
  });

  test('a customer Stripe answers 404 for is a terminal outcome, not a retry loop', async () => {
    const { customer } = seedReader(h.stripe, { nowSeconds: sec() });
    h.stripe.forgetCustomer(customer.id);
    h.stripe.resetRequests();
    await deliverAndSettle('customer.updated', customer);
    assert.equal(h.stripe.count({ method: 'GET', path: `/v1/customers/${customer.id}` }), 1);
    const body = await status(customer.id);
    assert.equal(body.reason, 'customer_deleted');
    const [job] = await h.queues.customerSync.getJobs(['completed'], 0, 0);
    assert.equal(job?.returnvalue.outcome, 'missing');
  });

  test('events delivered in reverse order, two in the same second, end at Stripe\'s current truth', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    const created = h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(subscription.id)!, { created: sec() });
    h.stripe.putSubscription({ ...h.stripe.getSubscription(subscription.id)!, status: 'canceled', canceled_at: sec(), ended_at: sec() });
    const deleted = h.stripe.makeEvent('customer.subscription.deleted', h.stripe.getSubscription(subscription.id)!, { created: sec() });
    assert.equal(created.created, deleted.created, 'same second');
    assert.equal((await h.deliver(deleted)).status, 200);
    await h.settle();
    assert.equal((await h.deliver(created)).status, 200);
    await h.settle();
    assert.equal((await status(customer.id)).status, 'canceled');
  });

  test('an event rendered for a 2020-08-27 endpoint (period on the subscription) leads to the same answer', async () => {
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: sec() });
    await deliverAndSettle('customer.subscription.updated', h.stripe.getSubscription(subscription.id)!, { api_version: LEGACY_API_VERSION });
    const body = await status(customer.id);
    assert.equal(body.status, 'active');
    assert.equal(body.subscription.current_period_end, new Date((sec() + 20 * 86_400) * 1000).toISOString());
  });

  test('types subgate does not react to are acknowledged, counted and ignored', async () => {
    await deliverAndSettle('product.created', { id: 'prod_x', object: 'product' });
    const counts = await h.ledger.counts();
    assert.ok((counts['product.created|ignored'] ?? 0) >= 1);
  });
});
