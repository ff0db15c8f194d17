/**
 * Proves the Stripe double is faithful enough to trust: the real SDK, over real HTTP, gets Stripe's
 * shapes, expansion, pagination, filters and error classes back. If these fail, tests built on the double
 * prove nothing about production.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { waitFor } from '../support/redis.js';
import {
  cardPaymentMethodFixture,
  customerFixture,
  invoiceFixture,
  LEGACY_API_VERSION,
  legacyCardSourceFixture,
  subscriptionFixture,
} from '../fixtures/stripe-objects.js';
import { parseStripeForm, startStripeDouble, type StripeDouble } from '../support/stripe-double.js';

const WEBHOOK_SECRET = 'whsec_test_double_secret_0001';

describe('stripe double', () => {
  let double: StripeDouble;
  let stripe: Stripe;
  let clockMs = Date.UTC(2026, 0, 15, 12, 0, 0);

  before(async () => {
    double = await startStripeDouble({ now: () => clockMs });
    stripe = double.client();
  });
  after(async () => {
    await double.close();
  });
  afterEach(() => {
    double.reset();
    clockMs = Date.UTC(2026, 0, 15, 12, 0, 0);
  });

  /** A customer with a default card PaymentMethod and a legacy default card source, all stored. */
  function seedCustomer() {
    const customer = customerFixture({ metadata: { user_id: 'u_1' } });
    const pm = double.putPaymentMethod(
      cardPaymentMethodFixture({ customer: customer.id, brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030 }),
    );
    const card = double.putSource(
      legacyCardSourceFixture({ customer: customer.id, brand: 'Visa', last4: '1881', exp_month: 3, exp_year: 2027 }),
    );
    customer.invoice_settings.default_payment_method = pm.id;
    customer.default_source = card.id;
    double.putCustomer(customer);
    return { customer, pm, card };
  }

  describe('customers', () => {
    test('retrieve expands the default payment method and default source into full objects', async () => {
      const { customer, pm, card } = seedCustomer();
      const got = await stripe.customers.retrieve(customer.id, {
        expand: ['invoice_settings.default_payment_method', 'default_source'],
      });
      assert.ok(!got.deleted);
      const dpm = got.invoice_settings.default_payment_method as Stripe.PaymentMethod;
      assert.equal(dpm.id, pm.id);
      assert.equal(dpm.object, 'payment_method');
      assert.equal(dpm.card?.last4, '4242');
      assert.equal(dpm.card?.exp_year, 2030);
      const src = got.default_source as Stripe.Card;
      assert.equal(src.id, card.id);
      assert.equal(src.object, 'card');
      assert.equal(src.brand, 'Visa');
      assert.equal(got.metadata.user_id, 'u_1');
      // The request carried the expansions the way the SDK encodes them.
      const req = double.requests.at(-1)!;
      assert.equal(req.method, 'GET');
      assert.equal(req.path, `/v1/customers/${customer.id}`);
      assert.deepEqual(req.query.expand, ['invoice_settings.default_payment_method', 'default_source']);
    });

    test('without expand, references stay id strings (and the store is not mutated by expansion)', async () => {
      const { customer, pm } = seedCustomer();
      await stripe.customers.retrieve(customer.id, { expand: ['invoice_settings.default_payment_method'] });
      const plain = await stripe.customers.retrieve(customer.id);
      assert.ok(!plain.deleted);
      assert.equal(plain.invoice_settings.default_payment_method, pm.id);
      assert.equal(double.getCustomer(customer.id)?.invoice_settings.default_payment_method, pm.id);
    });

    test('expand subscriptions materialises the sublist Stripe omits by default', async () => {
      const { customer } = seedCustomer();
      double.putSubscription(subscriptionFixture({ customer: customer.id }));
      double.putSubscription(subscriptionFixture({ customer: customer.id, status: 'canceled' }));
      const got = await stripe.customers.retrieve(customer.id, { expand: ['subscriptions'] });
      assert.ok(!got.deleted);
      assert.equal(got.subscriptions?.object, 'list');
      assert.equal(got.subscriptions?.data.length, 1);
      const plain = (await stripe.customers.retrieve(customer.id)) as unknown as Record<string, unknown>;
      assert.equal('subscriptions' in plain, false);
    });

    test('a deleted customer retrieves as { id, object, deleted: true }', async () => {
      const { customer } = seedCustomer();
      const sub = double.putSubscription(subscriptionFixture({ customer: customer.id }));
      double.deleteCustomer(customer.id);
      const got = await stripe.customers.retrieve(customer.id);
      assert.deepEqual({ ...got }, { id: customer.id, object: 'customer', deleted: true });
      // As in Stripe, deleting the customer ended its subscriptions.
      assert.equal(double.getSubscription(sub.id)?.status, 'canceled');
    });

    test('an unknown customer is a 404 StripeInvalidRequestError with code resource_missing', async () => {
      await assert.rejects(stripe.customers.retrieve('cus_nope'), (err: unknown) => {
        assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
        assert.equal(err.statusCode, 404);
        assert.equal(err.code, 'resource_missing');
        assert.equal(err.param, 'id');
        assert.equal(err.message, "No such customer: 'cus_nope'");
        assert.ok(err.requestId?.startsWith('req_'));
        return true;
      });
    });

    test('forgetCustomer makes a known customer 404', async () => {
      const { customer } = seedCustomer();
      double.forgetCustomer(customer.id);
      await assert.rejects(stripe.customers.retrieve(customer.id), { code: 'resource_missing', statusCode: 404 });
    });

    test('list expands data.* and paginates', async () => {
      for (let i = 0; i < 3; i++) seedCustomer();
      const page = await stripe.customers.list({ limit: 2, expand: ['data.invoice_settings.default_payment_method'] });
      assert.equal(page.object, 'list');
      assert.equal(page.url, '/v1/customers');
      assert.equal(page.data.length, 2);
      assert.equal(page.has_more, true);
      for (const c of page.data) {
        assert.equal((c.invoice_settings.default_payment_method as Stripe.PaymentMethod).object, 'payment_method');
      }
      const rest = await stripe.customers.list({ limit: 2, starting_after: page.data[1]!.id });
      assert.equal(rest.data.length, 1);
      assert.equal(rest.has_more, false);
    });

    test('update sets invoice_settings.default_payment_method and merges metadata', async () => {
      const { customer } = seedCustomer();
      const pm2 = double.putPaymentMethod(cardPaymentMethodFixture({ customer: customer.id, last4: '4444', brand: 'mastercard' }));
      const updated = await stripe.customers.update(customer.id, {
        invoice_settings: { default_payment_method: pm2.id },
        metadata: { plan: 'gold' },
        expand: ['invoice_settings.default_payment_method'],
      });
      assert.equal((updated.invoice_settings.default_payment_method as Stripe.PaymentMethod).card?.last4, '4444');
      assert.deepEqual(updated.metadata, { user_id: 'u_1', plan: 'gold' });
      assert.equal(double.getCustomer(customer.id)?.invoice_settings.default_payment_method, pm2.id);
      const req = double.requests.at(-1)!;
      assert.equal(req.method, 'POST');
      assert.equal(req.body.invoice_settings.default_payment_method, pm2.id);
      assert.ok(req.headers['idempotency-key'], 'the SDK keys every POST');
    });

    test('update rejects a payment method attached to someone else', async () => {
      const { customer } = seedCustomer();
      const other = double.putPaymentMethod(cardPaymentMethodFixture({ customer: 'cus_someone_else' }));
      await assert.rejects(
        stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: other.id } }),
        (err: unknown) => err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode === 400,
      );
    });
  });

  describe('subscriptions', () => {
    test('auto-pagination walks 250 subscriptions 100 at a time, expanded', async () => {
      const { customer, pm } = seedCustomer();
      const ids = new Set<string>();
      for (let i = 0; i < 250; i++) {
        const sub = subscriptionFixture({ customer: customer.id, default_payment_method: pm.id, created: 1_700_000_000 + i });
        double.putSubscription(sub);
        ids.add(sub.id);
      }
      const all = await stripe.subscriptions
        .list({ customer: customer.id, status: 'all', limit: 100, expand: ['data.default_payment_method', 'data.customer'] })
        .autoPagingToArray({ limit: 1000 });
      assert.equal(all.length, 250);
      assert.deepEqual(new Set(all.map((s) => s.id)), ids);
      // Newest first, as Stripe lists.
      assert.deepEqual(
        all.map((s) => s.created),
        [...all.map((s) => s.created)].sort((a, b) => b - a),
      );
      for (const s of all) {
        assert.equal((s.default_payment_method as Stripe.PaymentMethod).id, pm.id);
        assert.equal((s.customer as Stripe.Customer).id, customer.id);
      }
      const pages = double.requests.filter((r) => r.path === '/v1/subscriptions');
      assert.equal(pages.length, 3);
      assert.equal(pages[0]!.query.starting_after, undefined);
      assert.equal(pages[1]!.query.starting_after, all[99]!.id);
      assert.deepEqual(pages[2]!.query.expand, ['data.default_payment_method', 'data.customer']);
    });

    test('for await iterates the same list', async () => {
      const { customer } = seedCustomer();
      for (let i = 0; i < 15; i++) double.putSubscription(subscriptionFixture({ customer: customer.id }));
      let n = 0;
      for await (const sub of stripe.subscriptions.list({ customer: customer.id, limit: 4 })) {
        assert.equal(sub.object, 'subscription');
        n++;
      }
      assert.equal(n, 15);
      assert.equal(double.count({ path: '/v1/subscriptions' }), 4);
    });

    test('expanding a list field without the data. prefix is a 400, as in Stripe', async () => {
      await assert.rejects(
        stripe.subscriptions.list({ expand: ['default_payment_method'] }),
        (err: unknown) =>
          err instanceof Stripe.errors.StripeInvalidRequestError &&
          err.statusCode === 400 &&
          /cannot be expanded \(default_payment_method\)/.test(err.message),
      );
    });

    test('the default status filter hides canceled subscriptions; status=all shows them', async () => {
      const { customer } = seedCustomer();
      const active = double.putSubscription(subscriptionFixture({ customer: customer.id, status: 'active' }));
      const pastDue = double.putSubscription(subscriptionFixture({ customer: customer.id, status: 'past_due' }));
      const canceled = double.putSubscription(subscriptionFixture({ customer: customer.id, status: 'canceled' }));
      double.putSubscription(subscriptionFixture({ customer: 'cus_other', status: 'active' }));

      const byDefault = await stripe.subscriptions.list({ customer: customer.id });
      assert.deepEqual(new Set(byDefault.data.map((s) => s.id)), new Set([active.id, pastDue.id]));
      const all = await stripe.subscriptions.list({ customer: customer.id, status: 'all' });
      assert.deepEqual(new Set(all.data.map((s) => s.id)), new Set([active.id, pastDue.id, canceled.id]));
      const onlyCanceled = await stripe.subscriptions.list({ customer: customer.id, status: 'canceled' });
      assert.deepEqual(onlyCanceled.data.map((s) => s.id), [canceled.id]);
    });

    test('answers in the pinned version only: the period on the items; legacy shapes only in events', async () => {
      const current = double.putSubscription(
        subscriptionFixture({ current_period_start: 1_767_225_600, current_period_end: 1_769_904_000 }),
      );
      const c = (await stripe.subscriptions.retrieve(current.id)) as unknown as Record<string, any>;
      assert.equal(c.current_period_end, undefined);
      assert.equal(c.items.data[0].current_period_end, 1_769_904_000);
      assert.equal(c.cancel_at, null);
      assert.equal(c.pause_collection, null);
      assert.equal(c.trial_end, null);
      assert.equal(double.requests.at(-1)!.status, 200);

      // A 2020-08-27 object would be served as if the pinned version had its fields: refused.
      assert.throws(() => double.putSubscription({ ...current, current_period_end: 1_769_904_000 }), /current_period_end, which API .* no longer has/);
      assert.throws(() => double.putCharge({ id: 'ch_x', object: 'charge', invoice: 'in_x' }), /carries invoice/);
      assert.throws(() => double.makeEvent('invoice.paid', { ...invoiceFixture(), subscription: 'sub_x' }), /carries subscription/);

      // The same subscription as a 2020-08-27 endpoint receives it.
      const legacy = double.makeEvent('customer.subscription.updated', current, { api_version: LEGACY_API_VERSION });
      assert.equal(legacy.data.object.current_period_end, 1_769_904_000);
      assert.equal(legacy.data.object.items.data[0]!.current_period_end, undefined);
      assert.equal(double.getSubscription(current.id)!.current_period_end, undefined, 'the stored object is untouched');
    });

    test('a request for another API version is refused, not answered in the wrong shape', async () => {
      const old = double.client({ apiVersion: LEGACY_API_VERSION as Stripe.LatestApiVersion });
      await assert.rejects(old.subscriptions.list(), (err: unknown) => {
        assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
        assert.match(err.message, new RegExp(`answers in API version ${Stripe.API_VERSION} only`));
        return true;
      });
      const res = await fetch(`${double.url}/v1/subscriptions`, { headers: { Authorization: 'Bearer sk_test_x' } });
      assert.equal(res.headers.get('stripe-version'), Stripe.API_VERSION);
    });

    test('update sets default_payment_method; expand latest_invoice resolves the invoice', async () => {
      const { customer, pm } = seedCustomer();
      const inv = double.putInvoice(invoiceFixture({ customer: customer.id }));
      const sub = double.putSubscription(subscriptionFixture({ customer: customer.id, latest_invoice: inv.id }));
      const updated = await stripe.subscriptions.update(sub.id, {
        default_payment_method: pm.id,
        expand: ['latest_invoice', 'default_payment_method'],
      });
      assert.equal((updated.default_payment_method as Stripe.PaymentMethod).id, pm.id);
      assert.equal((updated.latest_invoice as Stripe.Invoice).id, inv.id);
      assert.equal(double.getSubscription(sub.id)?.default_payment_method, pm.id);
    });
  });

  describe('payment methods and invoices', () => {
    test('payment method retrieve, customer list, and 404', async () => {
      const { customer, pm } = seedCustomer();
      double.putPaymentMethod(cardPaymentMethodFixture({ customer: 'cus_other' }));
      const got = await stripe.paymentMethods.retrieve(pm.id);
      assert.equal(got.card?.brand, 'visa');
      const list = await stripe.customers.listPaymentMethods(customer.id, { type: 'card' });
      assert.deepEqual(list.data.map((p) => p.id), [pm.id]);
      await assert.rejects(stripe.paymentMethods.retrieve('pm_nope'), {
        code: 'resource_missing',
        message: "No such PaymentMethod: 'pm_nope'",
      });
    });

    test('invoice list filters by subscription (parent.subscription_details); pay settles and revives a past_due subscription', async () => {
      const { customer } = seedCustomer();
      const sub = double.putSubscription(subscriptionFixture({ customer: customer.id, status: 'past_due' }));
      const current = double.putInvoice(invoiceFixture({ customer: customer.id, subscription: sub.id, attempt_count: 2 }));
      const older = double.putInvoice(invoiceFixture({ customer: customer.id, subscription: sub.id }));
      double.putInvoice(invoiceFixture({ customer: customer.id }));
      double.putSubscription({ ...double.getSubscription(sub.id)!, latest_invoice: current.id });

      const open = await stripe.invoices.list({ customer: customer.id, subscription: sub.id, status: 'open' });
      assert.deepEqual(new Set(open.data.map((i) => i.id)), new Set([current.id, older.id]));

      const paid = await stripe.invoices.pay(current.id);
      assert.equal(paid.status, 'paid');
      assert.equal(paid.amount_remaining, 0);
      assert.equal(paid.attempt_count, 3);
      assert.equal(paid.status_transitions.paid_at, Math.floor(clockMs / 1000));
      assert.equal(double.getSubscription(sub.id)?.status, 'active');
      await assert.rejects(stripe.invoices.pay(current.id), { statusCode: 400 });
    });

    test('paying with a Stripe decline test card is a StripeCardError and counts the attempt', async () => {
      const customer = double.putCustomer(customerFixture());
      const pm = double.putPaymentMethod(cardPaymentMethodFixture({ customer: customer.id, last4: '0002' }));
      double.putCustomer({ ...customer, invoice_settings: { ...customer.invoice_settings, default_payment_method: pm.id } });
      const inv = double.putInvoice(invoiceFixture({ customer: customer.id }));
      await assert.rejects(stripe.invoices.pay(inv.id), (err: unknown) => {
        assert.ok(err instanceof Stripe.errors.StripeCardError);
        assert.equal(err.code, 'card_declined');
        assert.equal(err.decline_code, 'generic_decline');
        return true;
      });
      assert.equal(double.getInvoice(inv.id)?.attempt_count, 1);
      assert.equal(double.getInvoice(inv.id)?.status, 'open');
    });

    test('a declined attempt is where the pinned version puts it: the invoice payments, the payment intent, the charge', async () => {
      const customer = double.putCustomer(customerFixture());
      const pm = double.putPaymentMethod(cardPaymentMethodFixture({ customer: customer.id, last4: '0069', exp_month: 11, exp_year: 2029 }));
      double.putCustomer({ ...customer, invoice_settings: { ...customer.invoice_settings, default_payment_method: pm.id } });
      const inv = double.putInvoice(invoiceFixture({ customer: customer.id, subscription: 'sub_test_x' }));

      const attempt = double.attemptInvoicePayment(inv.id);
      assert.equal(attempt.declined, true);
      const plain = (await stripe.invoices.retrieve(inv.id)) as unknown as Record<string, unknown>;
      for (const gone of ['charge', 'payment_intent', 'paid', 'subscription', 'payments']) assert.equal(gone in plain, false, gone);

      const expanded = await stripe.invoices.retrieve(inv.id, { expand: ['payments.data.payment.payment_intent'] });
      const [payment] = expanded.payments!.data;
      assert.equal(payment?.is_default, true);
      assert.equal(payment?.status, 'open');
      const intent = payment?.payment.payment_intent as Stripe.PaymentIntent;
      assert.equal(intent.status, 'requires_payment_method');
      assert.equal(intent.last_payment_error?.decline_code, 'expired_card');
      assert.equal(intent.last_payment_error?.payment_method?.id, pm.id);
      assert.equal(intent.latest_charge, attempt.charge.id);

      const listed = await stripe.invoicePayments.list({ invoice: inv.id, expand: ['data.payment.payment_intent.latest_charge'] });
      const charge = (listed.data[0]?.payment.payment_intent as Stripe.PaymentIntent).latest_charge as Stripe.Charge;
      assert.equal(charge.failure_code, 'expired_card');
      assert.equal(charge.payment_intent, intent.id);
      assert.equal('invoice' in charge, false, 'a charge no longer names its invoice');
      assert.equal((await stripe.paymentIntents.retrieve(intent.id)).id, intent.id);
      assert.equal((await stripe.invoicePayments.retrieve(payment!.id)).invoice, inv.id);

      // Paying it by API declines the same way, on the same payment intent; a 2020-08-27 endpoint sees it on the invoice.
      await assert.rejects(stripe.invoices.pay(inv.id), (err: unknown) => err instanceof Stripe.errors.StripeCardError && err.payment_intent?.id === intent.id);
      const legacy = double.makeEvent('invoice.payment_failed', double.getInvoice(inv.id)!, { api_version: LEGACY_API_VERSION });
      assert.equal(legacy.data.object.payment_intent, intent.id);
      assert.equal(legacy.data.object.charge, double.getPaymentIntent(intent.id)!.latest_charge);
      assert.equal(legacy.data.object.subscription, 'sub_test_x');
      assert.equal(double.makeEvent('charge.failed', attempt.charge, { api_version: LEGACY_API_VERSION }).data.object.invoice, inv.id);
    });

    test('a successful attempt marks the payment intent, the invoice payment and the invoice paid', async () => {
      const { customer } = seedCustomer();
      const inv = double.putInvoice(invoiceFixture({ customer: customer.id }));
      const attempt = double.attemptInvoicePayment(inv.id);
      assert.equal(attempt.declined, false);
      assert.equal(attempt.invoice.status, 'paid');
      assert.equal(attempt.paymentIntent.status, 'succeeded');
      assert.equal(attempt.invoicePayment.status, 'paid');
      assert.equal(attempt.charge.status, 'succeeded');
      assert.deepEqual(double.invoicePaymentsOf(inv.id).map((p) => p.id), [attempt.invoicePayment.id]);
    });
  });

  describe('faults', () => {
    test('failNext 429 -> StripeRateLimitError, then the next request succeeds', async () => {
      const { customer } = seedCustomer();
      double.failNext(1, { status: 429, retryAfter: 2 });
      await assert.rejects(stripe.customers.retrieve(customer.id), (err: unknown) => {
        assert.ok(err instanceof Stripe.errors.StripeRateLimitError);
        assert.equal(err.statusCode, 429);
        assert.equal(err.code, 'rate_limit');
        assert.equal(err.headers?.['retry-after'], '2');
        return true;
      });
      const ok = await stripe.customers.retrieve(customer.id);
      assert.equal(ok.id, customer.id);
    });

    test('failNext 500 -> StripeAPIError, then success; match limits which requests fail', async () => {
      const { customer, pm } = seedCustomer();
      double.failNext(2, { status: 500, match: (r) => r.path.startsWith('/v1/payment_methods/') });
      // Not matched: unaffected.
      assert.equal((await stripe.customers.retrieve(customer.id)).id, customer.id);
      for (let i = 0; i < 2; i++) {
        await assert.rejects(stripe.paymentMethods.retrieve(pm.id), (err: unknown) => {
          assert.ok(err instanceof Stripe.errors.StripeAPIError);
          assert.equal(err.statusCode, 500);
          return true;
        });
      }
      assert.equal((await stripe.paymentMethods.retrieve(pm.id)).id, pm.id);
    });

    test('Stripe-Should-Retry: false stops the SDK retrying on its own; true lets it', async () => {
      const { customer } = seedCustomer();
      const retrying = double.client({ maxNetworkRetries: 2 });
      double.failNext(1, { status: 503 });
      await assert.rejects(retrying.customers.retrieve(customer.id), Stripe.errors.StripeAPIError);
      assert.equal(double.count(), 1);

      double.resetRequests();
      double.failNext(1, { status: 503, shouldRetry: true });
      assert.equal((await retrying.customers.retrieve(customer.id)).id, customer.id);
      assert.equal(double.count(), 2);
    });

    test('a dropped connection is retried once by the SDK even with maxNetworkRetries 0', async () => {
      const { customer } = seedCustomer();
      double.failNext(1, { status: 'reset' });
      assert.equal((await stripe.customers.retrieve(customer.id)).id, customer.id);
      assert.equal(double.count(), 2);

      double.failNext(2, { status: 'reset' });
      await assert.rejects(stripe.customers.retrieve(customer.id), Stripe.errors.StripeConnectionError);
    });

    test('a bad or missing API key is a 401 StripeAuthenticationError', async () => {
      const bad = double.client({ apiKey: 'not_a_key' });
      await assert.rejects(bad.customers.retrieve('cus_x'), (err: unknown) => {
        assert.ok(err instanceof Stripe.errors.StripeAuthenticationError);
        assert.equal(err.statusCode, 401);
        return true;
      });
      const res = await fetch(`${double.url}/v1/customers/cus_x`);
      assert.equal(res.status, 401);
      const body = (await res.json()) as { error: { type: string; message: string } };
      assert.match(body.error.message, /did not provide an API key/);
    });

    test('an unknown route is a 404 in Stripe shape', async () => {
      const res = await fetch(`${double.url}/v1/nope`, { headers: { Authorization: 'Bearer sk_test_x' } });
      assert.equal(res.status, 404);
      const body = (await res.json()) as { error: { type: string; message: string } };
      assert.equal(body.error.type, 'invalid_request_error');
      assert.match(body.error.message, /Unrecognized request URL \(GET: \/v1\/nope\)/);
    });

    test('setLatency holds each answer back: the request is received, then answered', async () => {
      const { customer } = seedCustomer();
      double.setLatency(2000);
      double.resetRequests();
      const answered = stripe.customers.retrieve(customer.id);
      const received = await waitFor(() => double.requests.find((r) => r.path === `/v1/customers/${customer.id}`), { message: 'the request to arrive' });
      assert.ok(received);
      assert.equal(received.status, undefined, 'received, not yet answered');
      await answered;
      assert.equal(received.status, 200);
      double.setLatency(0);
    });
  });

  describe('billing portal', () => {
    test('sessions.create records flow_data and returns a URL a browser can open', async () => {
      const { customer } = seedCustomer();
      const session = await stripe.billingPortal.sessions.create({
        customer: customer.id,
        return_url: 'https://news.example/account',
        flow_data: {
          type: 'payment_method_update',
          after_completion: { type: 'redirect', redirect: { return_url: 'https://news.example/account?updated=1' } },
        },
      });
      assert.equal(session.object, 'billing_portal.session');
      assert.equal(session.customer, customer.id);
      assert.equal(session.flow?.type, 'payment_method_update');
      assert.equal(session.flow?.after_completion.redirect?.return_url, 'https://news.example/account?updated=1');
      assert.equal(session.flow?.subscription_cancel, null);
      assert.equal(session.url, `${double.url}/portal/${session.id}`);
      assert.equal(session.created, Math.floor(clockMs / 1000));

      const [rec] = double.portalSessions;
      assert.equal(rec?.params.flow_data.type, 'payment_method_update');
      assert.equal(rec?.params.return_url, 'https://news.example/account');

      const page = await fetch(session.url);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /Update your card/);
      assert.match(html, new RegExp(customer.id));
    });

    test('every flow_data[type] Stripe accepts opens a session; an unknown one, or a flow without its subscription, is a 400', async () => {
      const { customer } = seedCustomer();
      for (const type of double.portalFlowTypes) {
        const flow = type.startsWith('subscription_') ? { [type]: { subscription: 'sub_test_1', ...(type === 'subscription_update_confirm' ? { items: [{ id: 'si_1', price: 'price_1' }] } : {}) } } : {};
        const session = await stripe.billingPortal.sessions.create({ customer: customer.id, flow_data: { type, ...flow } as Stripe.BillingPortal.SessionCreateParams.FlowData });
        assert.equal(session.flow?.type, type);
      }
      const customerUpdate = double.portalSessions.find((p) => p.session.flow?.type === 'customer_update')!;
      assert.deepEqual(customerUpdate.session.flow?.customer_update, {});
      const pause = double.portalSessions.find((p) => p.session.flow?.type === 'subscription_pause')!;
      assert.deepEqual(pause.session.flow?.subscription_pause, { subscription: 'sub_test_1' });
      await assert.rejects(
        stripe.billingPortal.sessions.create({ customer: customer.id, flow_data: { type: 'no_such_flow' } }),
        (err: unknown) => err instanceof Stripe.errors.StripeInvalidRequestError && err.param === 'flow_data[type]',
      );
      await assert.rejects(
        stripe.billingPortal.sessions.create({ customer: customer.id, flow_data: { type: 'subscription_pause' } }),
        (err: unknown) => err instanceof Stripe.errors.StripeInvalidRequestError && err.param === 'flow_data[subscription_pause][subscription]',
      );
    });

    test('an unknown customer is rejected', async () => {
      await assert.rejects(
        stripe.billingPortal.sessions.create({ customer: 'cus_nope' }),
        (err: unknown) => err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'resource_missing',
      );
    });
  });

  describe('events', () => {
    test('list filters by created[gt] and types, newest first', async () => {
      const t0 = Math.floor(clockMs / 1000);
      const old = double.makeEvent('customer.updated', customerFixture(), { created: t0 - 100 });
      const e1 = double.makeEvent('customer.subscription.updated', subscriptionFixture(), { created: t0 + 1 });
      const e2 = double.makeEvent('invoice.payment_failed', invoiceFixture(), { created: t0 + 2 });
      const since = await stripe.events.list({ created: { gt: t0 } });
      assert.deepEqual(since.data.map((e) => e.id), [e2.id, e1.id]);
      const typed = await stripe.events.list({ types: ['customer.updated', 'invoice.payment_failed'] });
      assert.deepEqual(typed.data.map((e) => e.id), [e2.id, old.id]);
      const wildcard = await stripe.events.list({ type: 'customer.*' });
      assert.deepEqual(wildcard.data.map((e) => e.id), [e1.id, old.id]);
      const newer = await stripe.events.list({ ending_before: old.id, limit: 1 });
      assert.deepEqual(newer.data.map((e) => e.id), [e1.id]);
      assert.equal(newer.has_more, true);
      assert.equal((await stripe.events.retrieve(e1.id)).type, 'customer.subscription.updated');
    });

    test('makeEvent builds the real envelope', () => {
      const customer = customerFixture();
      const event = double.makeEvent('customer.updated', customer, { previous_attributes: { email: 'old@example.com' } });
      assert.match(event.id, /^evt_/);
      assert.equal(event.object, 'event');
      assert.equal(event.api_version, Stripe.API_VERSION);
      assert.equal(event.created, Math.floor(clockMs / 1000));
      assert.equal(event.livemode, false);
      assert.equal(event.pending_webhooks, 1);
      assert.match(String(event.request.id), /^req_/);
      assert.deepEqual(event.data.previous_attributes, { email: 'old@example.com' });
      assert.equal(event.data.object.id, customer.id);
      const legacy = double.makeEvent('invoice.paid', invoiceFixture({ subscription: 'sub_test_1', status: 'paid' }), { api_version: LEGACY_API_VERSION });
      assert.equal('previous_attributes' in legacy.data, false);
      assert.equal(legacy.api_version, '2020-08-27');
      assert.equal(legacy.data.object.subscription, 'sub_test_1');
      assert.equal(legacy.data.object.paid, true);
      assert.equal('parent' in legacy.data.object, false);
    });

    test('sign() output verifies with stripe.webhooks.constructEvent', () => {
      const event = double.makeEvent('invoice.payment_failed', invoiceFixture());
      const { payload, header } = double.sign(event, WEBHOOK_SECRET);
      assert.match(header, new RegExp(`^t=${Math.floor(clockMs / 1000)},v1=[0-9a-f]{64}$`));
      const verified = stripe.webhooks.constructEvent(payload, header, WEBHOOK_SECRET, 300, undefined, clockMs);
      assert.equal(verified.id, event.id);
      assert.deepEqual(JSON.parse(payload), event);
      assert.throws(
        () => stripe.webhooks.constructEvent(payload, header, 'whsec_wrong_secret_0001', 300, undefined, clockMs),
        Stripe.errors.StripeSignatureVerificationError,
      );
      // Default tolerance is judged against the receiver's clock: an old timestamp is rejected.
      const stale = double.sign(event, WEBHOOK_SECRET, { timestamp: Math.floor(clockMs / 1000) - 301 });
      assert.throws(
        () => stripe.webhooks.constructEvent(stale.payload, stale.header, WEBHOOK_SECRET, 300, undefined, clockMs),
        /tolerance/,
      );
    });
  });

  describe('request log', () => {
    test('count() and resetRequests()', async () => {
      const { customer, pm } = seedCustomer();
      await stripe.customers.retrieve(customer.id);
      await stripe.customers.retrieve(customer.id);
      await stripe.paymentMethods.retrieve(pm.id);
      assert.equal(double.count(), 3);
      assert.equal(double.count((r) => r.path.startsWith('/v1/customers/')), 2);
      assert.equal(double.count({ method: 'GET', path: /^\/v1\/payment_methods\// }), 1);
      assert.ok(double.requests.every((r) => r.status === 200 && typeof r.at === 'number'));
      assert.equal(double.requests[0]!.headers['stripe-version'], Stripe.API_VERSION);
      double.resetRequests();
      assert.equal(double.count(), 0);
    });

    test('a POST replayed with the same Idempotency-Key returns the saved response', async () => {
      const { customer } = seedCustomer();
      const opts = { idempotencyKey: 'idem-1' };
      const a = await stripe.customers.update(customer.id, { metadata: { n: '1' } }, opts);
      double.putCustomer({ ...double.getCustomer(customer.id)!, metadata: { n: 'changed' } });
      const b = await stripe.customers.update(customer.id, { metadata: { n: '1' } }, opts);
      assert.deepEqual(b.metadata, a.metadata);
      await assert.rejects(
        stripe.customers.update(customer.id, { metadata: { n: '2' } }, opts),
        Stripe.errors.StripeIdempotencyError,
      );
    });
  });
});

describe('parseStripeForm', () => {
  test('expands bracket paths the way the SDK encodes them', () => {
    assert.deepEqual(
      parseStripeForm(
        'expand[0]=data.customer&expand[1]=data.default_source&flow_data[type]=payment_method_update' +
          '&flow_data[after_completion][redirect][return_url]=https%3A%2F%2Fx.test%2F%3Fa%3D1&metadata[user_id]=u_1' +
          '&created[gt]=100&invoice_settings[default_payment_method]=&items[0][price]=p_1&items[1][price]=p_2&types[]=a&types[]=b',
      ),
      {
        expand: ['data.customer', 'data.default_source'],
        flow_data: { type: 'payment_method_update', after_completion: { redirect: { return_url: 'https://x.test/?a=1' } } },
        metadata: { user_id: 'u_1' },
        created: { gt: '100' },
        invoice_settings: { default_payment_method: '' },
        items: [{ price: 'p_1' }, { price: 'p_2' }],
        types: ['a', 'b'],
      },
    );
  });

  test('ignores prototype-polluting keys', () => {
    const parsed = parseStripeForm('__proto__[x]=1&a[constructor][y]=2&ok=1');
    assert.deepEqual(parsed, { ok: '1' });
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});
