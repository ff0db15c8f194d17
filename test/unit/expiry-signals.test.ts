import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readExpirySignal } from '../../src/domain/expiry-signals.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';
import { invoiceFixture } from '../fixtures/stripe-objects.js';
import { failedChargeFixture } from '../fixtures/charges.js';
import { renderLegacy } from '../fixtures/legacy-shapes.js';

const event = (type: string, object: Record<string, unknown>, created = 1_800_000_000): StripeEventLike =>
  ({ id: 'evt_1', object: 'event', type, api_version: '2020-08-27', created, livemode: false, data: { object } }) as unknown as StripeEventLike;

// The shape of the captured charge.failed fixture (stripe-ruby-mock), with the decline changed.
const charge = (failure_code: string, reason: string) => ({
  id: 'ch_1',
  object: 'charge',
  customer: 'cus_1',
  failure_code,
  outcome: { network_status: 'declined_by_network', reason, type: 'issuer_declined' },
  payment_method: 'pm_1',
  payment_method_details: { type: 'card', card: { brand: 'visa', exp_month: 3, exp_year: 2023, last4: '0002' } },
});

describe('readExpirySignal', () => {
  it('charge.failed with expired_card is an expired decline, with the card and its expiry', () => {
    assert.deepEqual(readExpirySignal(event('charge.failed', charge('expired_card', 'expired_card'))), {
      kind: 'expired_decline',
      customerId: 'cus_1',
      cardId: 'pm_1',
      exp_month: 3,
      exp_year: 2023,
      at: 1_800_000_000_000,
    });
  });

  it('other declines, and charges without a customer, say nothing about expiry', () => {
    assert.equal(readExpirySignal(event('charge.failed', charge('card_declined', 'generic_decline'))), null);
    assert.equal(readExpirySignal(event('charge.failed', { ...charge('expired_card', 'expired_card'), customer: null })), null);
  });

  it('invoice.payment_failed reads an expanded charge or payment intent, else names the charge to look up', () => {
    const base = { id: 'in_1', object: 'invoice', customer: 'cus_1', status: 'open' };
    assert.equal((readExpirySignal(event('invoice.payment_failed', { ...base, charge: charge('expired_card', 'expired_card') })) as { declineCode: string }).declineCode, 'expired_card');
    assert.equal(
      (readExpirySignal(event('invoice.payment_failed', { ...base, payment_intent: { last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds' } } })) as { declineCode: string }).declineCode,
      'insufficient_funds',
    );
    assert.deepEqual(readExpirySignal(event('invoice.payment_failed', { ...base, charge: 'ch_9' })), {
      kind: 'invoice_payment_failed',
      customerId: 'cus_1',
      invoiceId: 'in_1',
      declineCode: null,
      chargeId: 'ch_9',
      cardId: null,
      exp_month: null,
      exp_year: null,
      at: 1_800_000_000_000,
    });
  });

  it('invoice.payment_failed and payment_action_required in the current version name no charge: the decline is for the caller to look up', () => {
    const invoice = invoiceFixture({ id: 'in_3', customer: 'cus_1', subscription: 'sub_1', status: 'open', attempt_count: 1 });
    for (const type of ['invoice.payment_failed', 'invoice.payment_action_required']) {
      assert.deepEqual(readExpirySignal(event(type, invoice)), {
        kind: 'invoice_payment_failed',
        customerId: 'cus_1',
        invoiceId: 'in_3',
        declineCode: null,
        chargeId: null,
        cardId: null,
        exp_month: null,
        exp_year: null,
        at: 1_800_000_000_000,
      });
    }
    const legacy = renderLegacy(invoice, { paymentOfInvoice: () => ({ charge: 'ch_3', payment_intent: 'pi_3' }) });
    assert.equal((readExpirySignal(event('invoice.payment_failed', legacy)) as { chargeId: string }).chargeId, 'ch_3');
  });

  it('charge.failed reads the same in both versions', () => {
    const current = failedChargeFixture({ customer: 'cus_1', paymentMethod: 'pm_1', failureCode: 'expired_card', reason: 'expired_card', card: { brand: 'visa', last4: '0069', exp_month: 11, exp_year: 2029 } });
    const legacy = renderLegacy(current, { invoiceOfPaymentIntent: () => 'in_1' });
    assert.equal(legacy.invoice, 'in_1');
    assert.deepEqual(readExpirySignal(event('charge.failed', legacy)), readExpirySignal(event('charge.failed', current)));
    assert.equal((readExpirySignal(event('charge.failed', current)) as { exp_year: number }).exp_year, 2029);
  });

  it('customer.source.expiring carries the legacy card and its expiry', () => {
    assert.deepEqual(readExpirySignal(event('customer.source.expiring', { id: 'card_1', object: 'card', customer: 'cus_1', exp_month: 6, exp_year: 2027 })), {
      kind: 'source_expiring',
      customerId: 'cus_1',
      cardId: 'card_1',
      exp_month: 6,
      exp_year: 2027,
    });
    assert.equal(readExpirySignal(event('customer.source.expiring', { id: 'src_1', object: 'source', type: 'ach_credit_transfer', customer: 'cus_1' })), null);
  });

  it('invoice.paid gives when it was paid and which subscription it bills, in either API shape', () => {
    const paid = { id: 'in_2', object: 'invoice', customer: 'cus_1', status: 'paid', status_transitions: { paid_at: 1_800_000_500 } };
    assert.deepEqual(readExpirySignal(event('invoice.paid', { ...paid, subscription: 'sub_legacy' })), {
      kind: 'invoice_paid', customerId: 'cus_1', invoiceId: 'in_2', subscriptionId: 'sub_legacy', paidAt: 1_800_000_500_000,
    });
    const current = readExpirySignal(event('invoice.payment_succeeded', { ...paid, parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_new' } } }));
    assert.equal((current as { subscriptionId: string }).subscriptionId, 'sub_new');
    const fixture = invoiceFixture({ customer: 'cus_1', subscription: 'sub_fixture', status: 'paid' });
    assert.equal((readExpirySignal(event('invoice.paid', fixture)) as { subscriptionId: string }).subscriptionId, 'sub_fixture');
    assert.equal((readExpirySignal(event('invoice.paid', renderLegacy(fixture))) as { subscriptionId: string }).subscriptionId, 'sub_fixture');
    assert.equal(readExpirySignal(event('invoice.paid', { ...paid, status: 'open' })), null);
  });

  it('a customer id longer than 255 characters, or not cus_…, gives no signal', () => {
    for (const customer of [`cus_${'a'.repeat(252)}`, `cus_${'a'.repeat(200_000)}`, 'acct_1', { id: `cus_${'b'.repeat(300)}` }]) {
      assert.equal(readExpirySignal(event('charge.failed', { ...charge('expired_card', 'expired_card'), customer })), null);
    }
  });

  it('ids that are not Stripe ids (too long, wrong characters) are read as absent', () => {
    const long = `ch_${'c'.repeat(300)}`;
    assert.deepEqual(readExpirySignal(event('invoice.payment_failed', { id: 'in_1', object: 'invoice', customer: 'cus_1', charge: long })), {
      kind: 'invoice_payment_failed', customerId: 'cus_1', invoiceId: 'in_1', declineCode: null, chargeId: null, cardId: null, exp_month: null, exp_year: null, at: 1_800_000_000_000,
    });
    assert.equal(readExpirySignal(event('invoice.payment_failed', { id: `in_${'d'.repeat(300)}`, object: 'invoice', customer: 'cus_1' })), null);
    const decline = readExpirySignal(event('charge.failed', { ...charge('expired_card', 'expired_card'), payment_method: 'pm 1' }));
    assert.equal((decline as { cardId: string | null }).cardId, null);
  });
});
