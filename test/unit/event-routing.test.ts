import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_ROUTES, routeEvent } from '../../src/domain/event-routing.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';

function event(type: string, object: Record<string, unknown>, previous?: Record<string, unknown>): StripeEventLike {
  return {
    id: 'evt_1',
    object: 'event',
    type,
    api_version: '2026-10-28.endive',
    created: 1_790_000_000,
    livemode: false,
    data: { object: object as never, ...(previous ? { previous_attributes: previous } : {}) },
    request: { id: null, idempotency_key: null },
  };
}

describe('event routing', () => {
  test('a customer event is about the customer object itself', () => {
    assert.deepEqual(routeEvent(event('customer.updated', { object: 'customer', id: 'cus_A' })), {
      kind: 'sync',
      customerId: 'cus_A',
      urgency: 'access',
    });
  });

  test('subscription, invoice, charge and payment-method events name their customer field', () => {
    for (const type of ['customer.subscription.deleted', 'invoice.payment_failed', 'charge.failed', 'payment_method.attached']) {
      const routed = routeEvent(event(type, { object: 'x', id: 'x_1', customer: 'cus_B' }));
      assert.deepEqual(routed, { kind: 'sync', customerId: 'cus_B', urgency: 'access' }, type);
    }
  });

  test('an expanded customer reference is read by its id', () => {
    const routed = routeEvent(event('invoice.paid', { object: 'invoice', id: 'in_1', customer: { id: 'cus_C', object: 'customer' } }));
    assert.deepEqual(routed, { kind: 'sync', customerId: 'cus_C', urgency: 'access' });
  });

  test('a detached payment method is routed to the customer it was detached from', () => {
    const routed = routeEvent(
      event('payment_method.detached', { object: 'payment_method', id: 'pm_1', customer: null }, { customer: 'cus_D' }),
    );
    assert.deepEqual(routed, { kind: 'sync', customerId: 'cus_D', urgency: 'access' });
  });

  test('a handled event that names no customer is reported as such', () => {
    assert.deepEqual(routeEvent(event('setup_intent.succeeded', { object: 'setup_intent', id: 'seti_1', customer: null })), {
      kind: 'no_customer',
    });
  });

  test('a customer id that is not cus_… is not trusted', () => {
    assert.deepEqual(routeEvent(event('charge.failed', { object: 'charge', id: 'ch_1', customer: 'acct_1' })), { kind: 'no_customer' });
  });

  test('a customer id longer than Stripe ids get (255 characters) names no customer', () => {
    const longest = `cus_${'a'.repeat(251)}`;
    assert.deepEqual(routeEvent(event('customer.updated', { object: 'customer', id: longest })), { kind: 'sync', customerId: longest, urgency: 'access' });
    for (const id of [`cus_${'a'.repeat(252)}`, `cus_${'a'.repeat(200_000)}`, 'cus_', 'cus_a-b', 'cus_a\nb']) {
      assert.deepEqual(routeEvent(event('customer.updated', { object: 'customer', id })), { kind: 'no_customer' }, id.slice(0, 20));
      assert.deepEqual(routeEvent(event('invoice.paid', { object: 'invoice', id: 'in_1', customer: { id, object: 'customer' } })), { kind: 'no_customer' });
      assert.deepEqual(routeEvent(event('payment_method.detached', { object: 'payment_method', id: 'pm_1', customer: null }, { customer: id })), { kind: 'no_customer' });
    }
  });

  test('types subgate does not react to are ignored, including prototype names', () => {
    assert.deepEqual(routeEvent(event('product.created', { object: 'product', id: 'prod_1' })), { kind: 'ignored' });
    assert.deepEqual(routeEvent(event('toString', { object: 'x', id: 'x' })), { kind: 'ignored' });
  });

  test('every event type the README lists is handled', () => {
    const required = [
      'customer.created', 'customer.updated', 'customer.deleted',
      'customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
      'customer.subscription.paused', 'customer.subscription.resumed',
      'payment_method.attached', 'payment_method.updated', 'payment_method.automatically_updated', 'payment_method.detached',
      'customer.source.updated', 'customer.source.expiring',
      'invoice.paid', 'invoice.payment_succeeded', 'invoice.payment_failed', 'invoice.payment_action_required',
      'setup_intent.succeeded', 'checkout.session.completed', 'charge.failed',
    ];
    for (const type of required) assert.ok(Object.hasOwn(EVENT_ROUTES, type), type);
  });

  test('routine events rank after access-changing ones', () => {
    assert.equal(EVENT_ROUTES['customer.created'].urgency, 'routine');
    assert.equal(EVENT_ROUTES['invoice.payment_failed'].urgency, 'access');
  });
});

describe('product and feature events', () => {
  const event = (type: string, object: Record<string, unknown>) =>
    ({ id: 'evt_1', object: 'event', type, created: 0, livemode: false, api_version: null, data: { object } }) as never;

  test('product.updated / product.deleted name the product, not a customer', () => {
    assert.deepEqual(routeEvent(event('product.updated', { id: 'prod_News1', object: 'product' })), { kind: 'product', productId: 'prod_News1', deleted: false });
    assert.deepEqual(routeEvent(event('product.deleted', { id: 'prod_News1', object: 'product' })), { kind: 'product', productId: 'prod_News1', deleted: true });
    assert.deepEqual(routeEvent(event('product.updated', { id: 'cus_1', object: 'product' })), { kind: 'no_customer' });
  });

  test('entitlements.active_entitlement_summary.updated refreshes its customer, urgently', () => {
    assert.deepEqual(routeEvent(event('entitlements.active_entitlement_summary.updated', { object: 'entitlements.active_entitlement_summary', customer: 'cus_1' })), {
      kind: 'sync',
      customerId: 'cus_1',
      urgency: 'access',
    });
  });
});
