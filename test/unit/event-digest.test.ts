import { describe, test } from 'node:test';
import { renderLegacy } from '../fixtures/legacy-shapes.js';
import assert from 'node:assert/strict';
import { DIGEST_STRING_MAX_LENGTH, digestEvent } from '../../src/domain/event-digest.js';
import { EVENT_ROUTES, PRODUCT_EVENT_TYPES, routeEvent } from '../../src/domain/event-routing.js';
import { activeEntitlementSummaryFixture, entitlementFeatureFixture, productFixture } from '../fixtures/products.js';
import { readExpirySignal } from '../../src/domain/expiry-signals.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';
import {
  LEGACY_API_VERSION,
  billingPortalSessionFixture,
  cardPaymentMethodFixture,
  customerFixture,
  eventFixture,
  invoiceFixture,
  legacyCardSourceFixture,
  nextTestId,
  subscriptionFixture,
  type StripeJson,
} from '../fixtures/stripe-objects.js';
import { failedChargeFixture } from '../fixtures/charges.js';

const CUSTOMER = nextTestId('cus');
const EXPANDED_CUSTOMER = customerFixture({ id: CUSTOMER, email: 'ada@example.com', name: 'Ada', metadata: { user_id: 'u-ada' } });
const card = { brand: 'visa', last4: '0002', exp_month: 3, exp_year: 2027 };

/** Every object the fixtures make, in each API shape and with each reference expanded or not. */
function fixtureObjects(): Array<[string, StripeJson]> {
  const subscription = subscriptionFixture({ customer: CUSTOMER });
  const charge = (failureCode: string, reason: string) =>
    failedChargeFixture({ customer: CUSTOMER, paymentMethod: nextTestId('pm'), failureCode, reason, card });
  return [
    ['customer', customerFixture({ id: CUSTOMER, email: 'reader@example.com', metadata: { user_id: 'u-1' } })],
    ['customer with an expanded default card', customerFixture({ id: CUSTOMER, invoice_settings: { default_payment_method: cardPaymentMethodFixture({ customer: CUSTOMER }) } })],
    ['card payment method', cardPaymentMethodFixture({ customer: CUSTOMER })],
    ['payment method, customer expanded', cardPaymentMethodFixture({ customer: EXPANDED_CUSTOMER })],
    ['detached payment method', cardPaymentMethodFixture({ customer: null })],
    ['legacy card source', legacyCardSourceFixture({ customer: CUSTOMER, exp_month: 4, exp_year: 2027 })],
    ['legacy Sources object', { id: nextTestId('src'), object: 'source', type: 'card', customer: CUSTOMER, owner: { email: 'o@example.com' }, card: { brand: 'Visa', last4: '4242', exp_month: 5, exp_year: 2027 } }],
    ['subscription (current)', subscription],
    ['subscription (legacy)', renderLegacy(subscriptionFixture({ customer: CUSTOMER }))],
    ['subscription, customer expanded', subscriptionFixture({ customer: EXPANDED_CUSTOMER })],
    ['paid invoice (current)', invoiceFixture({ customer: CUSTOMER, subscription: subscription.id, status: 'paid' })],
    ['paid invoice (legacy)', renderLegacy(invoiceFixture({ customer: CUSTOMER, subscription: subscription.id, status: 'paid' }))],
    ['open invoice (current)', invoiceFixture({ customer: CUSTOMER, subscription: subscription.id, attempt_count: 1 })],
    ['open invoice (legacy), charge id', renderLegacy(invoiceFixture({ customer: CUSTOMER, subscription: subscription.id, attempt_count: 1 }), { paymentOfInvoice: () => ({ charge: nextTestId('ch'), payment_intent: nextTestId('pi') }) })],
    ['open invoice, charge expanded (expired card)', { ...renderLegacy(invoiceFixture({ customer: CUSTOMER, attempt_count: 1 })), charge: charge('expired_card', 'expired_card') }],
    ['open invoice, payment intent expanded', { ...renderLegacy(invoiceFixture({ customer: CUSTOMER })), payment_intent: { id: nextTestId('pi'), object: 'payment_intent', last_payment_error: { code: 'card_declined', decline_code: 'expired_card', payment_method: { billing_details: { email: 'pm@example.com' } } } } }],
    ['invoice, customer expanded', invoiceFixture({ customer: EXPANDED_CUSTOMER, status: 'paid' })],
    ['failed charge: expired card', charge('expired_card', 'expired_card')],
    ['failed charge: other decline', charge('card_declined', 'generic_decline')],
    ['failed charge: code only in outcome', { ...charge('card_declined', 'expired_card'), failure_code: null }],
    ['billing portal session', billingPortalSessionFixture({ customer: CUSTOMER })],
    ['setup intent', { id: nextTestId('seti'), object: 'setup_intent', customer: CUSTOMER, payment_method: nextTestId('pm') }],
    ['checkout session', { id: nextTestId('cs'), object: 'checkout.session', customer: CUSTOMER, customer_details: { email: 'c@example.com', name: 'C' } }],
    ['product', productFixture({ name: 'News' })],
    ['active entitlement summary', activeEntitlementSummaryFixture(CUSTOMER, [entitlementFeatureFixture({ lookup_key: 'news' })])],
  ];
}

const asEvent = (event: unknown) => event as StripeEventLike;

describe('event digest', () => {
  test('routing and expiry signals decide the same on the digest as on the whole event, for every fixture and handled type', () => {
    const kinds = new Set<string>();
    let compared = 0;
    const routings = new Set<string>();
    for (const type of [...Object.keys(EVENT_ROUTES), ...PRODUCT_EVENT_TYPES]) {
      for (const [name, object] of fixtureObjects()) {
        for (const opts of [{}, { api_version: LEGACY_API_VERSION, previous_attributes: { customer: CUSTOMER, email: 'old@example.com' } }]) {
          const event = asEvent(eventFixture(type, object, opts));
          const digest = digestEvent(event);
          const what = `${type} / ${name}`;
          assert.deepEqual(routeEvent(digest), routeEvent(event), what);
          routings.add(routeEvent(event).kind);
          const signal = readExpirySignal(event);
          assert.deepEqual(readExpirySignal(digest), signal, what);
          if (signal) kinds.add(signal.kind);
          compared += 1;
        }
      }
    }
    // Every kind of routing (a product event names a product, not a customer) is compared.
    assert.deepEqual([...routings].sort(), ['no_customer', 'product', 'sync']);
    // The table exercises every kind of signal, so "same" above compares real readings.
    assert.deepEqual([...kinds].sort(), ['expired_decline', 'invoice_paid', 'invoice_payment_failed', 'source_expiring']);
    assert.ok(compared > 1000, `compared ${compared}`);
  });

  test('keeps the envelope, drops e-mail, names, addresses, metadata and the request', () => {
    const event = asEvent(
      eventFixture('customer.updated', customerFixture({ id: CUSTOMER, email: 'ada@example.com', name: 'Ada Lovelace', address: { city: 'London' }, metadata: { user_id: 'u-ada' }, shipping: { name: 'Ada' } }), {
        previous_attributes: { email: 'old@example.com', metadata: { user_id: 'u-old' } },
        livemode: true,
      }),
    );
    const digest = digestEvent(event);
    assert.deepEqual(digest, {
      id: event.id,
      object: 'event',
      type: 'customer.updated',
      api_version: event.api_version,
      created: event.created,
      livemode: true,
      data: { object: { id: CUSTOMER, object: 'customer' }, previous_attributes: {} },
    });
  });

  test('an expanded reference keeps its id and listed fields only', () => {
    const digest = digestEvent(asEvent(eventFixture('invoice.payment_failed', { ...invoiceFixture({ customer: EXPANDED_CUSTOMER }), charge: failedChargeFixture({ customer: CUSTOMER, paymentMethod: 'pm_1', failureCode: 'expired_card', reason: 'expired_card', card }) })));
    const object = digest.data.object as unknown as StripeJson;
    assert.deepEqual(object.customer, { id: CUSTOMER });
    assert.deepEqual(Object.keys(object.charge).sort(), ['failure_code', 'id', 'outcome', 'payment_method', 'payment_method_details', 'source']);
    assert.deepEqual(object.charge.outcome, { reason: 'expired_card' });
    assert.doesNotMatch(JSON.stringify(digest), /@|metadata|fingerprint/);
  });

  test('strings are capped and marked, so a cut id never passes for a real one', () => {
    const long = `cus_${'a'.repeat(200_000)}`;
    const event = asEvent(eventFixture('charge.failed', { id: 'ch_1', object: 'charge', customer: long, failure_code: 'x'.repeat(10_000), outcome: { reason: 'expired_card' } }));
    const digest = digestEvent(event);
    const object = digest.data.object as unknown as StripeJson;
    assert.equal(object.customer.length, DIGEST_STRING_MAX_LENGTH + 1);
    assert.ok(object.customer.endsWith('…'));
    assert.equal(object.failure_code.length, DIGEST_STRING_MAX_LENGTH + 1);
    assert.deepEqual(routeEvent(digest), { kind: 'no_customer' });
    assert.deepEqual(routeEvent(digest), routeEvent(event));
    assert.ok(JSON.stringify(digest).length < 2000);
  });

  test('walks only the listed paths: a payload nested 10,000 deep digests to a few hundred bytes', () => {
    let deep: StripeJson = { reason: 'expired_card' };
    for (let i = 0; i < 10_000; i++) deep = { a: deep, reason: { reason: deep } };
    const object = { id: 'ch_1', object: 'charge', customer: CUSTOMER, failure_code: 'expired_card', outcome: deep, metadata: deep, payment_method_details: { card: { exp_month: deep, exp_year: 2027 } } };
    const digest = digestEvent(asEvent(eventFixture('charge.failed', object)));
    const text = JSON.stringify(digest);
    assert.ok(text.length < 1000, `${text.length} bytes`);
    assert.deepEqual((digest.data.object as unknown as StripeJson).outcome, {}, 'a reason that is not a string is not kept');
    assert.deepEqual((digest.data.object as unknown as StripeJson).payment_method_details, { card: { exp_year: 2027 } });
  });

  test('copies own fields only: inherited or __proto__ keys are neither read nor written', () => {
    const object = JSON.parse(`{"id":"${CUSTOMER}","object":"customer","__proto__":{"status":"active","polluted":true}}`) as StripeJson;
    const digest = digestEvent(asEvent(eventFixture('customer.updated', object)));
    assert.deepEqual(digest.data.object, { id: CUSTOMER, object: 'customer' });
    assert.equal(({} as StripeJson).polluted, undefined);
  });
});
