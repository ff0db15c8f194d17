/**
 * Events that move a card's expiry state at once, delivered as signed webhooks through the real app and
 * workers: an expired_card decline flags the card; a refreshed or replaced card clears it; a payment
 * after the expiry proves the card still pays; a new default card is put to work on the subscriptions.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { DAY, finished, mailsTo, promote, replaceCard, seedSubscriber, settleExpiry } from '../support/card-scenarios.js';
import { refreshReadOf } from '../support/readers.js';
import { waitFor } from '../support/redis.js';
import { failedChargeFixture } from '../fixtures/charges.js';
import { CURRENT_API_VERSION, invoiceFixture, legacyCardSourceFixture, LEGACY_API_VERSION } from '../fixtures/stripe-objects.js';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';

const START = Date.UTC(2027, 5, 10); // 2027-06-10
const JUNE = cardExpiresAt(6, 2027); // 2027-07-01

describe('card expiry signals from events', () => {
  let h: Harness;
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink();
    h = await createHarness({ label: 'expiry-signals', clockStart: START, cardExpiry: { smtpUrl: sink.url, noticeDays: [7] } });
  });
  after(async () => {
    await h.close();
    await sink.close();
  });
  afterEach(async () => {
    await settleExpiry(h);
    h.clock.set(START);
  });

  const deliverOk = async (event: { id: string }) => assert.equal((await h.deliver(event)).status, 200);

  test('charge.failed with expired_card flags the card at once, before its printed expiry; duplicates make one e-mail', async () => {
    const sub = await seedSubscriber(h, { exp_month: 11, exp_year: 2029, last4: '0069' });
    await settleExpiry(h);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'active');

    const charge = failedChargeFixture({
      customer: sub.customerId,
      paymentMethod: sub.pmId,
      failureCode: 'expired_card',
      reason: 'expired_card',
      card: { brand: 'visa', last4: '0069', exp_month: 11, exp_year: 2029 },
    });
    const event = h.stripe.makeEvent('charge.failed', charge, { api_version: LEGACY_API_VERSION });
    await deliverOk(event);
    await deliverOk(event); // Stripe redelivers
    await deliverOk(h.stripe.makeEvent('charge.failed', charge)); // and a second event about the same decline
    await settleExpiry(h);

    const res = await h.entitlement({ customer: sub.customerId });
    assert.equal(res.body.status, 'card_expired');
    assert.equal(res.body.card.expired, true);
    assert.ok(res.body.update_card_url);
    const marks = (await h.store.read(sub.customerId))?.expiry_marks;
    assert.equal(marks?.[0]?.flag_source, 'decline');
    assert.deepEqual(mailsTo(sink, sub.email).map((m) => m.subject), ['Your card ending in 0069 has expired']);
  });

  test('invoice.payment_failed (2020-08-27): the decline code is looked up on the charge it names; expired_card flags, another code sends payment_failed once', async () => {
    const expired = await seedSubscriber(h, { exp_month: 11, exp_year: 2029 });
    const declined = await seedSubscriber(h, { exp_month: 11, exp_year: 2029 });
    await settleExpiry(h);

    const failing = (sub: typeof expired, failureCode: string, reason: string) => {
      const invoice = h.stripe.putInvoice(invoiceFixture({ customer: sub.customerId, subscription: sub.subscriptionId, status: 'open', attempt_count: 1 }));
      const charge = h.stripe.putCharge(
        failedChargeFixture({ customer: sub.customerId, paymentMethod: sub.pmId, failureCode, reason, card: { brand: 'visa', last4: '4242', exp_month: 11, exp_year: 2029 } }),
      );
      // A 2020-08-27 endpoint gets the invoice with its charge's id on it.
      return h.stripe.makeEvent('invoice.payment_failed', { ...invoice, charge: charge.id }, { api_version: LEGACY_API_VERSION });
    };
    await deliverOk(failing(expired, 'expired_card', 'expired_card'));
    const generic = failing(declined, 'card_declined', 'insufficient_funds');
    assert.equal(typeof generic.data.object.charge, 'string');
    await deliverOk(generic);
    await deliverOk(h.stripe.makeEvent('invoice.payment_failed', generic.data.object, { api_version: LEGACY_API_VERSION }));
    await settleExpiry(h);

    assert.equal((await h.entitlement({ customer: expired.customerId })).body.status, 'card_expired');
    assert.deepEqual(mailsTo(sink, expired.email).map((m) => m.subject), ['Your card ending in 4242 has expired']);
    assert.equal((await h.entitlement({ customer: declined.customerId })).body.status, 'active');
    assert.deepEqual(mailsTo(sink, declined.email).map((m) => m.subject), ['Your The Harness Gazette payment did not go through']);
    assert.equal(h.stripe.count({ method: 'GET', path: /^\/v1\/charges\// }), 3);
    assert.equal(h.stripe.count({ path: /^\/v1\/(invoices|invoice_payments|payment_intents)/ }), 0);
  });

  // Where a decline is read from, besides the customer refresh every event triggers.
  const paymentReads = () => h.stripe.requests.filter((r) => /^\/v1\/(invoices|invoice_payments|payment_intents|charges)/.test(r.path));

  for (const [version, label] of [[CURRENT_API_VERSION, 'current'], [LEGACY_API_VERSION, '2020-08-27']] as const) {
    /** A subscriber whose card has a valid date but which the issuer declines as expired (test card …0069). */
    const declinedRenewal = async () => {
      const sub = await seedSubscriber(h, { exp_month: 11, exp_year: 2029, last4: '0069', openInvoice: true });
      await settleExpiry(h);
      const invoiceId = String(h.stripe.getSubscription(sub.subscriptionId)!.latest_invoice);
      const attempt = h.stripe.attemptInvoicePayment(invoiceId);
      assert.equal(attempt.declined, true);
      assert.equal(attempt.paymentIntent.last_payment_error.decline_code, 'expired_card');
      h.stripe.resetRequests();
      return { sub, attempt };
    };
    const assertFlaggedOnce = async (sub: { customerId: string; email: string | null }) => {
      const res = await h.entitlement({ customer: sub.customerId });
      assert.equal(res.body.status, 'card_expired');
      assert.equal(res.body.card.expired, true);
      assert.equal((await h.store.read(sub.customerId))?.expiry_marks?.[0]?.flag_source, 'decline');
      assert.deepEqual(mailsTo(sink, sub.email).map((m) => m.subject), ['Your card ending in 0069 has expired']);
    };

    test(`[${label}] invoice.payment_failed alone, for a valid-dated card declined expired_card: card_expired, one notice, one Stripe read for the decline`, async () => {
      const { sub, attempt } = await declinedRenewal();
      const event = h.stripe.makeEvent('invoice.payment_failed', attempt.invoice, { api_version: version });
      assert.equal('charge' in event.data.object, version === LEGACY_API_VERSION, 'only a 2020-08-27 invoice names its charge');
      await deliverOk(event);
      await deliverOk(event); // redelivered
      await settleExpiry(h);

      await assertFlaggedOnce(sub);
      const reads = paymentReads().map((r) => `${r.method} ${r.path}`);
      assert.deepEqual(
        reads,
        version === LEGACY_API_VERSION ? [`GET /v1/charges/${attempt.charge.id}`] : [`GET /v1/invoices/${attempt.invoice.id}`],
      );
      if (version === CURRENT_API_VERSION) {
        assert.deepEqual(paymentReads()[0]!.query.expand, ['payments.data.payment.payment_intent']);
      }
    });

    test(`[${label}] charge.failed alone, for a valid-dated card declined expired_card: card_expired, one notice, no extra Stripe read`, async () => {
      const { sub, attempt } = await declinedRenewal();
      const event = h.stripe.makeEvent('charge.failed', attempt.charge, { api_version: version });
      assert.equal('invoice' in event.data.object, version === LEGACY_API_VERSION, 'only a 2020-08-27 charge names its invoice');
      await deliverOk(event);
      await settleExpiry(h);

      await assertFlaggedOnce(sub);
      assert.deepEqual(paymentReads(), []);
    });
  }

  test('invoice.payment_action_required is read like payment_failed; with it, one payment_failed notice per invoice', async () => {
    const sub = await seedSubscriber(h, { exp_month: 11, exp_year: 2029, last4: '9995', openInvoice: true });
    await settleExpiry(h);
    const attempt = h.stripe.attemptInvoicePayment(String(h.stripe.getSubscription(sub.subscriptionId)!.latest_invoice));
    h.stripe.resetRequests();
    const failed = h.stripe.makeEvent('invoice.payment_failed', attempt.invoice);
    const actionRequired = h.stripe.makeEvent('invoice.payment_action_required', attempt.invoice);
    await deliverOk(failed);
    await deliverOk(actionRequired);
    await settleExpiry(h);

    assert.deepEqual(await finished(h, `signal-${actionRequired.id}`), { outcome: 'payment_failed_notice', declineCode: 'insufficient_funds' });
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'active');
    assert.deepEqual(mailsTo(sink, sub.email).map((m) => m.subject), ['Your The Harness Gazette payment did not go through']);
    assert.equal(paymentReads().length, 2, 'one read of the invoice payments per failed-invoice event');
  });

  test('no other event reads a payment: paid invoices, subscription and customer changes, a non-expiry decline', async () => {
    const sub = await seedSubscriber(h, { exp_month: 11, exp_year: 2029, last4: '9995', openInvoice: true });
    await settleExpiry(h);
    const invoiceId = String(h.stripe.getSubscription(sub.subscriptionId)!.latest_invoice);
    const attempt = h.stripe.attemptInvoicePayment(invoiceId);
    h.stripe.resetRequests();
    for (const version of [CURRENT_API_VERSION, LEGACY_API_VERSION]) {
      await deliverOk(h.stripe.makeEvent('charge.failed', attempt.charge, { api_version: version }));
      await deliverOk(h.stripe.makeEvent('customer.subscription.updated', h.stripe.getSubscription(sub.subscriptionId)!, { api_version: version }));
      await deliverOk(h.stripe.makeEvent('customer.updated', h.stripe.getCustomer(sub.customerId)!, { api_version: version }));
    }
    const paidInvoice = h.stripe.putInvoice(invoiceFixture({ customer: sub.customerId, subscription: sub.subscriptionId, status: 'paid' }));
    await deliverOk(h.stripe.makeEvent('invoice.paid', paidInvoice));
    await deliverOk(h.stripe.makeEvent('invoice.paid', paidInvoice, { api_version: LEGACY_API_VERSION }));
    await settleExpiry(h);
    assert.ok(h.stripe.count(refreshReadOf(sub.customerId)) >= 1, 'the refreshes ran');
    assert.deepEqual(paymentReads(), []);
    assert.deepEqual(mailsTo(sink, sub.email), []);
  });

  test('customer.source.expiring schedules the expiring notice for a legacy card', async () => {
    h.clock.set(JUNE - 5 * DAY);
    const sub = await seedSubscriber(h, { exp_month: 12, exp_year: 2031, sync: false });
    const card = h.stripe.putSource(legacyCardSourceFixture({ customer: sub.customerId, last4: '1117', exp_month: 6, exp_year: 2027 }));
    const customer = h.stripe.getCustomer(sub.customerId)!;
    h.stripe.putCustomer({ ...customer, default_source: card.id, invoice_settings: { ...customer.invoice_settings, default_payment_method: null } });
    await h.syncCustomer(sub.customerId);
    await settleExpiry(h);
    await h.queues.cardExpiry.obliterate({ force: true }); // the schedule is lost

    const event = h.stripe.makeEvent('customer.source.expiring', h.stripe.getSource(card.id)!, { api_version: LEGACY_API_VERSION });
    await deliverOk(event);
    assert.deepEqual(await finished(h, `signal-${event.id}`), { outcome: 'scheduled', jobs: 2 });
    await settleExpiry(h);
    assert.deepEqual(mailsTo(sink, sub.email).map((m) => m.subject), ['Your card ending in 1117 expires in 5 days']);
  });

  test('payment_method.automatically_updated with a new expiry clears the flag at once, and the reader hears access is back', async () => {
    h.clock.set(JUNE - DAY);
    const sub = await seedSubscriber(h, { exp_month: 6, exp_year: 2027, last4: '3155' });
    await settleExpiry(h);
    h.clock.set(JUNE);
    await promote(h, `expire-${sub.customerId}-${sub.pmId}-${JUNE}`);
    await settleExpiry(h);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'card_expired');

    const pm = h.stripe.getPaymentMethod(sub.pmId)!;
    const updated = h.stripe.putPaymentMethod({ ...pm, card: { ...pm.card, exp_month: 6, exp_year: 2031 } });
    await deliverOk(h.stripe.makeEvent('payment_method.automatically_updated', updated, { previous_attributes: { card: { exp_year: 2027 } } }));
    await settleExpiry(h);

    const res = await h.entitlement({ customer: sub.customerId });
    assert.equal(res.body.status, 'active');
    assert.equal(res.body.card.exp_year, 2031);
    assert.equal(res.body.update_card_url, null);
    assert.deepEqual(mailsTo(sink, sub.email).map((m) => m.subject), [
      'Your card ending in 3155 expires in 1 day',
      'Your card ending in 3155 has expired',
      'Your The Harness Gazette subscription is active again',
    ]);
    const changes = (await h.expiry!.feed.readChanges()).filter((c) => c.customer === sub.customerId).map((c) => c.next.status);
    assert.deepEqual(changes, ['active', 'card_expired', 'active']);
  });

  test('an invoice paid after the expiry instant proves the card pays: the flag clears and is not raised again', async () => {
    h.clock.set(JUNE - DAY);
    const sub = await seedSubscriber(h, { exp_month: 6, exp_year: 2027 });
    await settleExpiry(h);
    const expireId = `expire-${sub.customerId}-${sub.pmId}-${JUNE}`;
    h.clock.set(JUNE + 2 * 3_600_000);
    await promote(h, expireId);
    await settleExpiry(h);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'card_expired');

    // The issuer honoured the expired card at renewal.
    const paid = h.stripe.putInvoice(
      invoiceFixture({ customer: sub.customerId, subscription: sub.subscriptionId, status: 'paid', created: Math.floor(h.clock.now() / 1000) - 120 }),
    );
    assert.ok(paid.status_transitions.paid_at! * 1000 > JUNE);
    await deliverOk(h.stripe.makeEvent('invoice.paid', paid));
    await settleExpiry(h);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'active');

    // Neither the expiry job nor tomorrow's sweep raises it again.
    await h.queues.cardExpiry.remove(expireId);
    h.clock.advance(DAY);
    await h.expiry!.sweep.sweep();
    await settleExpiry(h);
    assert.equal(await h.queues.cardExpiry.getJob(expireId), undefined, 'the sweep plans no expiry check for an honoured card');
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'active');
    const marks = (await h.store.read(sub.customerId))?.expiry_marks;
    assert.ok(marks?.[0]?.honoured_at);
    assert.equal(mailsTo(sink, sub.email).filter((m) => /has expired/.test(m.subject)).length, 1);
  });

  test('a payment made before the expiry (delivered late) proves nothing and clears nothing', async () => {
    h.clock.set(JUNE + DAY);
    const sub = await seedSubscriber(h, { exp_month: 6, exp_year: 2027 });
    await settleExpiry(h);
    const early = h.stripe.putInvoice(
      invoiceFixture({ customer: sub.customerId, subscription: sub.subscriptionId, status: 'paid', created: Math.floor((JUNE - 10 * DAY) / 1000) }),
    );
    const event = h.stripe.makeEvent('invoice.paid', early);
    await deliverOk(event);
    assert.deepEqual(await finished(h, `signal-${event.id}`), { outcome: 'nothing_to_clear', cards: 0 });
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'card_expired');
  });

  test('a new default card (customer.updated) is set on the past_due subscription and pays its open invoice at once', async () => {
    h.clock.set(JUNE + DAY);
    const sub = await seedSubscriber(h, { exp_month: 6, exp_year: 2027, status: 'past_due', cardOnSubscription: true, openInvoice: true });
    await settleExpiry(h);
    const newPm = replaceCard(h, sub.customerId, { exp_month: 4, exp_year: 2030 });
    await deliverOk(h.stripe.makeEvent('customer.updated', h.stripe.getCustomer(sub.customerId)!, {
      previous_attributes: { invoice_settings: { default_payment_method: sub.pmId } },
    }));
    await settleExpiry(h);
    await waitFor(async () => (await h.entitlement({ customer: sub.customerId })).body.status === 'active', { message: 'access back' });

    const subscription = h.stripe.getSubscription(sub.subscriptionId)!;
    assert.equal(subscription.default_payment_method, newPm.id);
    assert.equal(subscription.status, 'active');
    const invoice = h.stripe.getInvoice(String(subscription.latest_invoice))!;
    assert.equal(invoice.status, 'paid');
    assert.equal(h.stripe.count({ method: 'POST', path: `/v1/invoices/${invoice.id}/pay` }), 1);
  });
});
