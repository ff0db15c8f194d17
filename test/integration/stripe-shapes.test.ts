/**
 * Holds the Stripe double and every fixture to the installed SDK's description of Stripe at its pinned API
 * version (the generated .d.ts of `stripe`, read with the TypeScript API): every answer of every route of the
 * double, every fixture factory in each of its variants, and a webhook event of every type subgate reacts
 * to. An SDK upgrade that moves a field fails here, not in production. Events rendered for a 2020-08-27
 * endpoint are held to the same types minus exactly the recorded version delta (LEGACY_DELTA).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { openSdkShapes, type SdkShapes } from '../support/sdk-shapes.js';
import { startStripeDouble, type StripeDouble } from '../support/stripe-double.js';
import {
  billingPortalSessionFixture,
  cardPaymentMethodFixture,
  CURRENT_API_VERSION,
  customerFixture,
  eventFixture,
  invoiceFixture,
  LEGACY_API_VERSION,
  legacyCardSourceFixture,
  priceFixture,
  subscriptionFixture,
  type StripeJson,
} from '../fixtures/stripe-objects.js';
import { failedChargeFixture, succeededChargeFixture } from '../fixtures/charges.js';
import { cardErrorFixture, invoicePaymentFixture, paymentIntentFixture } from '../fixtures/invoice-payments.js';
import { checkoutSessionFixture, setupIntentFixture } from '../fixtures/checkout.js';
import { LEGACY_DELTA, renderLegacy } from '../fixtures/legacy-shapes.js';
import { EVENT_ROUTES } from '../../src/domain/event-routing.js';
import { activeEntitlementSummaryFixture, entitlementFeatureFixture, productFixture } from '../fixtures/products.js';

const NOW = Date.UTC(2027, 2, 10, 12, 0, 0);
const card = { brand: 'visa', last4: '0069', exp_month: 11, exp_year: 2029 };

const isObject = (value: unknown): value is StripeJson => typeof value === 'object' && value !== null && !Array.isArray(value);
const pathOf = (problem: string) => problem.slice(0, problem.indexOf(':')).replace(/\[\d+\]/g, '[]');

describe('the Stripe double and every fixture match the SDK types at its pinned API version', () => {
  let shapes: SdkShapes;
  let double: StripeDouble;
  let stripe: Stripe;

  before(async () => {
    shapes = openSdkShapes();
    double = await startStripeDouble({ now: () => NOW });
    stripe = double.client();
  });
  after(async () => {
    shapes?.close();
    await double?.close();
  });

  /** Problems of a legacy-rendered object that the recorded delta does not explain. */
  function unexplained(kind: string, problems: string[], prefix: string): string[] {
    const delta = LEGACY_DELTA[kind] ?? { currentOnly: [], legacyOnly: [] };
    return problems.filter((problem) => {
      if (problem.endsWith('nearest:')) return false; // a header; the lines after it are judged
      const path = pathOf(problem);
      if (!path.startsWith(prefix)) return true;
      const relative = path.slice(prefix.length);
      if (/: not a field of /.test(problem)) return !delta.legacyOnly.includes(relative);
      if (/: missing \(required/.test(problem)) return !delta.currentOnly.includes(relative);
      return true;
    });
  }

  /** What a served body or fixture gets wrong; an event is judged in the version it was rendered in. */
  function problemsOf(body: unknown, path = '$'): string[] {
    if (isObject(body) && body.object === 'list' && Array.isArray(body.data)) {
      const envelope = Object.keys(body).filter((k) => !['object', 'data', 'has_more', 'url'].includes(k)).map((k) => `${path}.${k}: not a field of ApiList`);
      return [...envelope, ...body.data.flatMap((item, i) => problemsOf(item, `${path}.data[${i}]`))];
    }
    if (isObject(body) && body.object === 'event' && body.api_version === LEGACY_API_VERSION) {
      return unexplained(String(body.data?.object?.object), shapes.checkAs('event', body, path), `${path.replace(/\[\d+\]/g, '[]')}.data.object.`);
    }
    return shapes.check(body, path);
  }

  const assertShaped = (label: string, body: unknown) => assert.deepEqual(problemsOf(body), [], `${label} does not match the SDK types`);

  test('the checker is not a rubber stamp: a stale field, a missing one, a wrong type each fail', () => {
    const charge = failedChargeFixture({ customer: 'cus_1', paymentMethod: 'pm_1', failureCode: 'expired_card', reason: 'expired_card', card });
    assert.deepEqual(shapes.check(charge), []);
    assert.deepEqual(shapes.check({ ...charge, invoice: 'in_1' }), ['$.invoice: not a field of Charge at this API version']);
    const { disputed: _disputed, ...missing } = charge;
    assert.deepEqual(shapes.check(missing), ['$.disputed: missing (required by Charge)']);
    assert.match(shapes.check({ ...charge, outcome: { ...charge.outcome, risk_score: 'high' } }).join('\n'), /\$\.outcome\.risk_score: "high" is not a number/);
    // A nullable field is present-and-null, never absent; an optional one may be absent.
    const { receipt_email: _email, ...noEmail } = charge;
    assert.deepEqual(shapes.check(noEmail), ['$.receipt_email: missing (required by Charge)']);
    assert.deepEqual(shapes.check({ ...charge, authorization_code: undefined }), []);
    // The moved fields of 2025-03-31.basil are stale now.
    const invoice = invoiceFixture({ subscription: 'sub_1' });
    assert.deepEqual(shapes.check({ ...invoice, subscription: 'sub_1', paid: false }), [
      '$.subscription: not a field of Invoice at this API version',
      '$.paid: not a field of Invoice at this API version',
    ]);
    const subscription = subscriptionFixture();
    assert.deepEqual(shapes.check({ ...subscription, current_period_end: 1 }), ['$.current_period_end: not a field of Subscription at this API version']);
    // An event is checked as the event type its `type` names.
    assert.match(shapes.checkAs('event', eventFixture('charge.failed', invoice)).join('\n'), /\$\.data\.object\.object: "invoice" is not "charge"/);
  });

  test('the double accepts exactly the flow_data[type] values the SDK lists', () => {
    assert.deepEqual([...double.portalFlowTypes].sort(), shapes.stringLiterals('PortalFlowType'));
  });

  test('every fixture factory, in each of its variants, is in the pinned version', (t) => {
    const fixtures: Array<[string, unknown]> = [
      ['customer', customerFixture({ metadata: { user_id: 'u_1' } })],
      ['customer without e-mail', customerFixture({ email: null, invoice_settings: { default_payment_method: 'pm_1' }, default_source: 'card_1' })],
      ['deleted customer', { id: 'cus_gone', object: 'customer', deleted: true }],
      ...['visa', 'mastercard', 'amex', 'diners'].map((brand): [string, unknown] => [`payment method ${brand}`, cardPaymentMethodFixture({ brand, customer: 'cus_1' })]),
      ['detached payment method', cardPaymentMethodFixture({ customer: null })],
      ...['Visa', 'American Express', 'MasterCard'].map((brand): [string, unknown] => [`card source ${brand}`, legacyCardSourceFixture({ brand, customer: 'cus_1' })]),
      ...(['active', 'trialing', 'past_due', 'canceled', 'incomplete', 'incomplete_expired', 'unpaid', 'paused'] as const).map((status): [string, unknown] => [
        `subscription ${status}`,
        subscriptionFixture({ status, customer: 'cus_1', default_payment_method: 'pm_1', latest_invoice: 'in_1' }),
      ]),
      ['subscription cancelling at period end', subscriptionFixture({ cancel_at_period_end: true, price: { interval: 'year', lookup_key: 'annual' } })],
      ...(['draft', 'open', 'paid', 'void', 'uncollectible'] as const).flatMap((status): Array<[string, unknown]> => [
        [`invoice ${status}`, invoiceFixture({ status, subscription: 'sub_1', customer: 'cus_1' })],
        [`one-off invoice ${status}`, invoiceFixture({ status })],
      ]),
      ['invoice retried', invoiceFixture({ subscription: 'sub_1', attempt_count: 3 })],
      ['charge declined expired_card', failedChargeFixture({ customer: 'cus_1', paymentMethod: 'pm_1', failureCode: 'expired_card', reason: 'expired_card', card })],
      ['charge declined generic', failedChargeFixture({ customer: 'cus_1', paymentMethod: 'pm_1', failureCode: 'card_declined', reason: 'generic_decline', card })],
      ['charge succeeded', succeededChargeFixture({ customer: 'cus_1', paymentMethod: 'pm_1', card })],
      ['payment intent new', paymentIntentFixture({ customer: 'cus_1' })],
      ['payment intent declined', paymentIntentFixture({ customer: 'cus_1', latest_charge: 'ch_1', payment_method: 'pm_1', last_payment_error: cardErrorFixture({ code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.', chargeId: 'ch_1', paymentMethod: cardPaymentMethodFixture() }) })],
      ['payment intent succeeded', paymentIntentFixture({ status: 'succeeded', latest_charge: 'ch_1' })],
      ['invoice payment open', invoicePaymentFixture({ invoice: 'in_1', paymentIntent: 'pi_1', amount: 1500 })],
      ['invoice payment paid', invoicePaymentFixture({ invoice: 'in_1', paymentIntent: 'pi_1', amount: 1500, status: 'paid', isDefault: false })],
      ['portal session without flow', billingPortalSessionFixture()],
      ...double.portalFlowTypes.map((type): [string, unknown] => [
        `portal session ${type}`,
        billingPortalSessionFixture({ flow_data: { type, after_completion: { type: 'redirect', redirect: { return_url: 'https://x.test' } }, ...(type.startsWith('subscription_') ? { [type]: { subscription: 'sub_1' } } : {}) } }),
      ]),
      ['setup intent', setupIntentFixture({ customer: 'cus_1' })],
      ['checkout session', checkoutSessionFixture({ customer: 'cus_1' })],
    ];
    for (const [label, fixture] of fixtures) assertShaped(label, fixture);
    t.diagnostic(`${fixtures.length} fixtures checked`);
  });

  /** One object of each kind the handled events carry, built by the fixtures (the double renders them). */
  function eventObjects(): Record<string, StripeJson> {
    const customer = customerFixture({ invoice_settings: { default_payment_method: 'pm_1' } });
    return {
      customer,
      subscription: subscriptionFixture({ customer: customer.id }),
      card: legacyCardSourceFixture({ customer: customer.id }),
      payment_method: cardPaymentMethodFixture({ customer: customer.id }),
      invoice: invoiceFixture({ customer: customer.id, subscription: 'sub_1', status: 'paid' }),
      setup_intent: setupIntentFixture({ customer: customer.id }),
      'checkout.session': checkoutSessionFixture({ customer: customer.id }),
      charge: failedChargeFixture({ customer: customer.id, paymentMethod: 'pm_1', failureCode: 'expired_card', reason: 'expired_card', card }),
      product: productFixture({ name: 'News' }),
      summary: activeEntitlementSummaryFixture(customer.id, [entitlementFeatureFixture({ lookup_key: 'news' })]),
    };
  }
  const objectFor = (type: string, objects: Record<string, StripeJson>): StripeJson => {
    if (type.startsWith('customer.subscription.')) return objects.subscription!;
    if (type.startsWith('customer.source.')) return objects.card!;
    if (type.startsWith('customer.')) return objects.customer!;
    if (type.startsWith('payment_method.')) return type === 'payment_method.detached' ? { ...objects.payment_method!, customer: null } : objects.payment_method!;
    if (type.startsWith('invoice.')) return objects.invoice!;
    if (type.startsWith('setup_intent.')) return objects.setup_intent!;
    if (type.startsWith('checkout.session.')) return objects['checkout.session']!;
    if (type.startsWith('charge.')) return objects.charge!;
    if (type.startsWith('product.')) return objects.product!;
    if (type.startsWith('entitlements.active_entitlement_summary.')) return objects.summary!;
    throw new Error(`no fixture object for ${type}`);
  };

  test('a webhook event of every type subgate reacts to, in the pinned version and in 2020-08-27', (t) => {
    const objects = eventObjects();
    const types = Object.keys(EVENT_ROUTES);
    const legacySeen: Record<string, StripeJson[]> = {};
    for (const type of types) {
      const object = objectFor(type, objects);
      // A summary has no metadata: what changed on it is its list of entitlements.
      const changed = type.startsWith('entitlements.') ? { entitlements: object.entitlements } : { metadata: {} };
      const previous = type.endsWith('.updated') ? { previous_attributes: changed } : {};
      const current = double.makeEvent(type, object, previous);
      assert.equal(current.api_version, CURRENT_API_VERSION);
      assertShaped(`${type} (${CURRENT_API_VERSION})`, current);

      const legacy = double.makeEvent(type, object, { ...previous, api_version: LEGACY_API_VERSION });
      assertShaped(`${type} (${LEGACY_API_VERSION})`, legacy);
      (legacySeen[String(object.object)] ??= []).push(legacy.data.object);
    }
    // The delta names real fields: each legacy-only one appears in some legacy rendering, each
    // current-only one in the pinned object it was taken from.
    for (const [kind, renderings] of Object.entries(legacySeen)) {
      const delta = LEGACY_DELTA[kind];
      if (!delta) continue;
      const present = (root: unknown, path: string): boolean => hasPath(root, path.split('.'));
      for (const path of delta.legacyOnly) assert.ok(renderings.some((r) => present(r, path)) || kind === 'invoice', `${kind}: ${path} is never rendered`);
      for (const path of delta.currentOnly) assert.ok(present(objects[kind === 'card' ? 'card' : kind], path), `${kind}: ${path} is not in the pinned object`);
    }
    t.diagnostic(`${types.length} event types, ${types.length * 2} events checked`);
  });

  test('legacy invoices: both line kinds and the payment links render as the delta says', () => {
    const subscriptionInvoice = renderLegacy(invoiceFixture({ subscription: 'sub_1', status: 'open', attempt_count: 1 }), {
      paymentOfInvoice: () => ({ charge: 'ch_1', payment_intent: 'pi_1' }),
    });
    const oneOff = renderLegacy(invoiceFixture({ status: 'paid' }));
    for (const [label, rendering] of [['subscription invoice', subscriptionInvoice], ['one-off invoice', oneOff]] as const) {
      assert.deepEqual(unexplained('invoice', shapes.checkAs('invoice', rendering), '$.'), [], label);
    }
    for (const path of LEGACY_DELTA.invoice!.legacyOnly) {
      assert.ok(hasPath(subscriptionInvoice, path.split('.')) || hasPath(oneOff, path.split('.')), `invoice: ${path} is never rendered`);
    }
    assert.equal(subscriptionInvoice.charge, 'ch_1');
    assert.equal(subscriptionInvoice.subscription, 'sub_1');
  });

  test('every route of the double serves only SDK-shaped objects', async (t) => {
    // A world with something behind every route.
    const customer = customerFixture({ metadata: { user_id: 'u_shapes' } });
    const pm = double.putPaymentMethod(cardPaymentMethodFixture({ customer: customer.id, ...card }));
    const spare = double.putPaymentMethod(cardPaymentMethodFixture({ customer: null, brand: 'mastercard', last4: '4444' }));
    const source = double.putSource(legacyCardSourceFixture({ customer: customer.id }));
    customer.invoice_settings.default_payment_method = pm.id;
    customer.default_source = source.id;
    double.putCustomer(customer);
    const gone = double.putCustomer(customerFixture());
    double.deleteCustomer(gone.id);
    const renewal = double.putInvoice(invoiceFixture({ customer: customer.id, subscription: 'sub_pending', status: 'open' }));
    const sub = double.putSubscription(subscriptionFixture({ customer: customer.id, latest_invoice: renewal.id }));
    double.putSubscription(subscriptionFixture({ customer: customer.id, status: 'canceled' }));
    double.putSubscription(subscriptionFixture({ customer: customer.id, status: 'trialing', default_payment_method: pm.id, default_source: source.id }));
    const declined = double.attemptInvoicePayment(renewal.id);
    assert.equal(declined.declined, true);
    // Charged to the spare card (an invoice's own default comes first): the …0069 card declines.
    const payable = double.putInvoice(invoiceFixture({ customer: customer.id, default_payment_method: spare.id }));
    await stripe.paymentMethods.attach(spare.id, { customer: customer.id });
    for (const version of [CURRENT_API_VERSION, LEGACY_API_VERSION]) {
      double.makeEvent('invoice.payment_failed', declined.invoice, { api_version: version });
      double.makeEvent('charge.failed', declined.charge, { api_version: version });
      double.makeEvent('customer.subscription.updated', double.getSubscription(sub.id)!, { api_version: version, previous_attributes: { status: 'active' } });
    }
    double.resetRequests();

    // What subgate asks, and the rest of what the double answers.
    const customerExpand = ['invoice_settings.default_payment_method', 'default_source'];
    await stripe.customers.list({ limit: 3, expand: customerExpand.map((e) => `data.${e}`) });
    await stripe.customers.retrieve(customer.id, { expand: [...customerExpand, 'subscriptions', 'sources', 'tax_ids'] });
    await stripe.customers.retrieve(gone.id);
    await stripe.customers.update(customer.id, { metadata: { plan: 'gold' }, invoice_settings: { default_payment_method: pm.id } });
    await stripe.customers.listPaymentMethods(customer.id, { type: 'card' });
    await stripe.customers.retrievePaymentMethod(customer.id, pm.id);
    await stripe.customers.listSources(customer.id, { object: 'card' });
    await stripe.customers.retrieveSource(customer.id, source.id);
    await stripe.paymentMethods.retrieve(pm.id, { expand: ['customer'] });
    await stripe.paymentMethods.detach(spare.id);
    await stripe.paymentMethods.attach(spare.id, { customer: customer.id });
    await stripe.subscriptions.list({ customer: customer.id, status: 'all', expand: ['data.default_payment_method', 'data.default_source', 'data.latest_invoice', 'data.customer'] });
    await stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice.payments'] });
    await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true, default_payment_method: pm.id });
    const doomed = double.putSubscription(subscriptionFixture({ customer: customer.id }));
    await stripe.subscriptions.cancel(doomed.id);
    await stripe.invoices.list({ customer: customer.id, status: 'open', expand: ['data.payments'] });
    await stripe.invoices.retrieve(renewal.id, { expand: ['payments.data.payment.payment_intent'] });
    await stripe.invoices.pay(payable.id, { expand: ['payments.data.payment.payment_intent'] });
    await stripe.invoicePayments.list({ invoice: renewal.id, expand: ['data.payment.payment_intent.latest_charge'] });
    await stripe.invoicePayments.retrieve(declined.invoicePayment.id, { expand: ['invoice'] });
    await stripe.paymentIntents.retrieve(declined.paymentIntent.id, { expand: ['latest_charge', 'customer'] });
    await stripe.charges.retrieve(declined.charge.id, { expand: ['payment_intent'] });
    await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'https://publisher.test/account' });
    const news = double.putProduct(productFixture({ name: 'News' }));
    double.putPrice({ ...priceFixture({ id: 'price_shapes_news', product: news.id, lookup_key: 'news_monthly' }, NOW / 1000) });
    double.attachFeature(news.id, double.putEntitlementFeature(entitlementFeatureFixture({ lookup_key: 'news' })));
    await stripe.products.retrieve(news.id);
    await stripe.products.list({ ids: [news.id] });
    await stripe.products.listFeatures(news.id, { limit: 100 });
    await stripe.prices.list({ lookup_keys: ['news_monthly'] });
    await stripe.prices.retrieve('price_shapes_news');
    for (const type of double.portalFlowTypes) {
      const flow = type.startsWith('subscription_') ? { [type]: { subscription: sub.id, ...(type === 'subscription_update_confirm' ? { items: [{ id: 'si_1', price: 'price_1' }] } : {}) } } : {};
      await stripe.billingPortal.sessions.create({
        customer: customer.id,
        flow_data: { type, after_completion: { type: 'redirect', redirect: { return_url: 'https://publisher.test/account' } }, ...flow } as Stripe.BillingPortal.SessionCreateParams.FlowData,
      });
    }
    const events = await stripe.events.list({ limit: 100 });
    for (const event of events.data.slice(0, 2)) await stripe.events.retrieve(event.id);
    await stripe.events.retrieve(events.data.find((e) => e.api_version === LEGACY_API_VERSION)!.id);

    const answered = double.requests.filter((r) => r.status !== undefined && r.status < 300);
    const problems = answered.flatMap((r) => problemsOf(r.response).map((p) => `${r.route} -> ${p}`));
    assert.deepEqual(problems, []);
    const covered = new Set(answered.map((r) => r.route));
    assert.deepEqual(double.routes.filter((route) => !covered.has(route)), [], 'every route answered at least once');

    const objects = answered.reduce((n, r) => n + (isObject(r.response) && Array.isArray(r.response.data) ? r.response.data.length : 1), 0);
    t.diagnostic(`${answered.length} answers over ${covered.size} routes, ${objects} served objects checked`);
  });
});

function hasPath(root: unknown, segments: readonly string[]): boolean {
  const [head, ...rest] = segments;
  if (head === undefined) return true;
  if (!isObject(root)) return false;
  if (head.endsWith('[]')) {
    const list = root[head.slice(0, -2)];
    return Array.isArray(list) && list.some((item) => hasPath(item, rest));
  }
  return head in root && hasPath(root[head], rest);
}
