import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chargeFailure,
  invoicePaymentFailure,
  invoiceSubscriptionId,
  paymentIntentFailure,
  subscriptionPeriodEnd,
  UNKNOWN_FAILURE,
} from '../../src/domain/stripe-moved-fields.js';
import { cardPaymentMethodFixture, invoiceFixture, subscriptionFixture } from '../fixtures/stripe-objects.js';
import { failedChargeFixture } from '../fixtures/charges.js';
import { cardErrorFixture, invoicePaymentFixture, paymentIntentFixture } from '../fixtures/invoice-payments.js';
import { renderLegacy } from '../fixtures/legacy-shapes.js';

const card = { brand: 'visa', last4: '0069', exp_month: 11, exp_year: 2029 };
const pm = cardPaymentMethodFixture({ id: 'pm_declined', customer: 'cus_1', last4: '0069', exp_month: 11, exp_year: 2029 });
const expiredCharge = failedChargeFixture({ id: 'ch_1', customer: 'cus_1', paymentMethod: 'pm_declined', paymentIntent: 'pi_1', failureCode: 'expired_card', reason: 'expired_card', card });
const declinedIntent = paymentIntentFixture({
  id: 'pi_1',
  customer: 'cus_1',
  latest_charge: 'ch_1',
  payment_method: 'pm_declined',
  last_payment_error: cardErrorFixture({ code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.', chargeId: 'ch_1', paymentMethod: pm }),
});
const EXPIRED = { declineCode: 'expired_card', chargeId: 'ch_1', cardId: 'pm_declined', exp_month: 11, exp_year: 2029 };

describe('the subscription of an invoice', () => {
  it('is under parent.subscription_details in the current version, top-level in 2020-08-27', () => {
    const invoice = invoiceFixture({ subscription: 'sub_1' });
    assert.equal(invoiceSubscriptionId(invoice), 'sub_1');
    const legacy = renderLegacy(invoice);
    assert.equal(legacy.parent, undefined);
    assert.equal(invoiceSubscriptionId(legacy), 'sub_1');
  });

  it('is read from an expanded subscription too, and is null for a one-off invoice', () => {
    const invoice = invoiceFixture({ subscription: 'sub_1' });
    invoice.parent.subscription_details.subscription = { id: 'sub_1', object: 'subscription' };
    assert.equal(invoiceSubscriptionId(invoice), 'sub_1');
    assert.equal(invoiceSubscriptionId(invoiceFixture()), null);
    assert.equal(invoiceSubscriptionId(renderLegacy(invoiceFixture())), null);
  });
});

describe('the billing period end', () => {
  it('is on the items in the current version (the latest one), on the subscription in 2020-08-27', () => {
    const subscription = subscriptionFixture({ current_period_start: 1_800_000_000, current_period_end: 1_802_592_000 });
    assert.equal(subscription.current_period_end, undefined);
    assert.equal(subscriptionPeriodEnd(subscription), 1_802_592_000);
    const second = { ...subscription.items.data[0], id: 'si_2', current_period_end: 1_805_000_000 };
    assert.equal(subscriptionPeriodEnd({ ...subscription, items: { ...subscription.items, data: [subscription.items.data[0], second] } }), 1_805_000_000);
    const legacy = renderLegacy(subscription);
    assert.equal(legacy.items.data[0].current_period_end, undefined);
    assert.equal(subscriptionPeriodEnd(legacy), 1_802_592_000);
  });

  it('is null when neither place has one', () => {
    assert.equal(subscriptionPeriodEnd({ id: 'sub_1', items: { data: [] } }), null);
  });
});

describe('a failed charge', () => {
  it('says expired_card in failure_code or in the outcome, with the card and the expiry it tried', () => {
    assert.deepEqual(chargeFailure(expiredCharge), EXPIRED);
    assert.equal(chargeFailure({ ...expiredCharge, failure_code: 'card_declined' }).declineCode, 'expired_card');
  });

  it('reports another decline as its failure code, and a bare id as only the charge', () => {
    const generic = failedChargeFixture({ customer: 'cus_1', paymentMethod: 'pm_1', failureCode: 'card_declined', reason: 'insufficient_funds', card });
    assert.equal(chargeFailure(generic).declineCode, 'card_declined');
    assert.deepEqual(chargeFailure('ch_9'), { ...UNKNOWN_FAILURE, chargeId: 'ch_9' });
  });

  it('names a card source when the charge was made on one', () => {
    assert.equal(chargeFailure({ ...expiredCharge, payment_method: null, source: { id: 'card_1', object: 'card' } }).cardId, 'card_1');
  });
});

describe('a declined payment intent', () => {
  it('has the decline, the charge and the whole declined payment method in last_payment_error', () => {
    assert.deepEqual(paymentIntentFailure(declinedIntent), EXPIRED);
  });

  it('falls back to the error code, and reads an expanded latest_charge', () => {
    const { decline_code: _decline, ...codeOnly } = declinedIntent.last_payment_error;
    assert.equal(paymentIntentFailure({ ...declinedIntent, last_payment_error: codeOnly }).declineCode, 'expired_card');
    const quiet = { ...declinedIntent, last_payment_error: null, latest_charge: expiredCharge };
    assert.deepEqual(paymentIntentFailure(quiet), EXPIRED);
  });
});

describe('the failed payment of an invoice', () => {
  const withPayments = (data: unknown[]) => ({ ...invoiceFixture({ id: 'in_1', subscription: 'sub_1' }), payments: { object: 'list', data, has_more: false, url: '/v1/invoice_payments' } });

  it('current version: from the expanded payments, the default one first', () => {
    const older = { ...invoicePaymentFixture({ invoice: 'in_1', paymentIntent: 'pi_0', amount: 1500, isDefault: false, created: 1 }), payment: { type: 'payment_intent', payment_intent: paymentIntentFixture({ id: 'pi_0' }) } };
    const current = { ...invoicePaymentFixture({ invoice: 'in_1', paymentIntent: 'pi_1', amount: 1500, created: 2 }), payment: { type: 'payment_intent', payment_intent: declinedIntent } };
    assert.deepEqual(invoicePaymentFailure(withPayments([older, current])), EXPIRED);
  });

  it('current version: unknown when the payments are not expanded, or not there (a webhook payload)', () => {
    assert.deepEqual(invoicePaymentFailure(withPayments([invoicePaymentFixture({ invoice: 'in_1', paymentIntent: 'pi_1', amount: 1500 })])), UNKNOWN_FAILURE);
    assert.deepEqual(invoicePaymentFailure(invoiceFixture({ subscription: 'sub_1', status: 'open', attempt_count: 1 })), UNKNOWN_FAILURE);
  });

  it('2020-08-27: the charge the invoice names (an id in webhooks), or its expanded charge or payment intent', () => {
    const legacy = renderLegacy(invoiceFixture({ id: 'in_1', subscription: 'sub_1', status: 'open', attempt_count: 1 }), {
      paymentOfInvoice: () => ({ charge: 'ch_1', payment_intent: 'pi_1' }),
    });
    assert.deepEqual(invoicePaymentFailure(legacy), { ...UNKNOWN_FAILURE, chargeId: 'ch_1' });
    assert.deepEqual(invoicePaymentFailure({ ...legacy, charge: expiredCharge }), EXPIRED);
    assert.deepEqual(invoicePaymentFailure({ ...legacy, charge: null, payment_intent: declinedIntent }), EXPIRED);
  });
});
