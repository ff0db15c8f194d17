/**
 * How the Stripe double collects an invoice, as the pinned API version records it: each invoice gets one
 * default PaymentIntent (behind an InvoicePayment) the first time it is attempted; every attempt makes a
 * Charge; a decline leaves the PaymentIntent in requires_payment_method with `last_payment_error` (the codes,
 * the charge, the declined PaymentMethod) and `latest_charge`; a success marks all three paid. The invoice
 * itself names none of them: its `payments` list does, when expanded.
 */
import { cardErrorFixture, invoicePaymentFixture, paymentIntentFixture } from '../fixtures/invoice-payments.js';
import { failedChargeFixture, succeededChargeFixture } from '../fixtures/charges.js';
import type { StripeJson } from '../fixtures/stripe-objects.js';

export interface Decline {
  code: string;
  declineCode: string | null;
  message: string;
}

export interface AttemptResult {
  paymentIntent: StripeJson;
  charge: StripeJson;
  invoicePayment: StripeJson;
}

export interface PaymentBook {
  readonly paymentIntents: Map<string, StripeJson>;
  readonly invoicePayments: Map<string, StripeJson>;
  /** Records one collection attempt of `invoice` with `instrument` (a PaymentMethod or a card source). */
  attempt(invoice: StripeJson, instrument: StripeJson, decline: Decline | null): AttemptResult;
  /** The invoice's payments, default first then newest, as `invoice.payments` lists them. */
  paymentsOf(invoiceId: string): StripeJson[];
  /** The default payment's intent and its latest charge: what a 2020-08-27 invoice named itself. */
  paymentOfInvoice(invoiceId: string): { charge: string | null; payment_intent: string | null } | null;
  invoiceOfPaymentIntent(paymentIntentId: string): string | null;
  clear(): void;
}

const idOf = (ref: unknown): string | null =>
  typeof ref === 'string' ? ref : ref && typeof ref === 'object' && typeof (ref as StripeJson).id === 'string' ? (ref as StripeJson).id : null;

export function createPaymentBook(opts: { charges: Map<string, StripeJson>; unix: () => number }): PaymentBook {
  const paymentIntents = new Map<string, StripeJson>();
  const invoicePayments = new Map<string, StripeJson>();

  const paymentsOf = (invoiceId: string) =>
    [...invoicePayments.values()]
      .filter((p) => p.invoice === invoiceId)
      .sort((a, b) => Number(b.is_default) - Number(a.is_default) || b.created - a.created);

  function defaultPayment(invoice: StripeJson): StripeJson {
    const existing = paymentsOf(invoice.id).find((p) => p.is_default);
    if (existing) return existing;
    const created = opts.unix();
    const intent = paymentIntentFixture({ customer: idOf(invoice.customer), amount: invoice.amount_due, created });
    paymentIntents.set(intent.id, intent);
    const payment = invoicePaymentFixture({ invoice: invoice.id, paymentIntent: intent.id, amount: invoice.amount_due, created });
    invoicePayments.set(payment.id, payment);
    return payment;
  }

  return {
    paymentIntents,
    invoicePayments,
    attempt(invoice, instrument, decline) {
      const payment = defaultPayment(invoice);
      const intent = structuredClone(paymentIntents.get(payment.payment.payment_intent)!);
      const isMethod = instrument.object === 'payment_method';
      const card = isMethod ? instrument.card : instrument;
      const chargeOpts = {
        customer: idOf(invoice.customer) ?? '',
        paymentMethod: instrument.id,
        paymentIntent: intent.id,
        amount: invoice.amount_due,
        created: opts.unix(),
        card: { brand: String(card.brand).toLowerCase(), last4: card.last4, exp_month: card.exp_month, exp_year: card.exp_year },
      };
      const charge = decline
        ? failedChargeFixture({ ...chargeOpts, failureCode: decline.code, reason: decline.declineCode ?? decline.code })
        : succeededChargeFixture(chargeOpts);
      if (!isMethod) charge.source = structuredClone(instrument);
      opts.charges.set(charge.id, charge);

      intent.latest_charge = charge.id;
      intent.payment_method = instrument.id;
      if (decline) {
        const error = cardErrorFixture({ ...decline, chargeId: charge.id, paymentMethod: structuredClone(instrument) });
        if (!isMethod) {
          delete error.payment_method;
          error.source = structuredClone(instrument);
        }
        intent.status = 'requires_payment_method';
        intent.last_payment_error = error;
      } else {
        intent.status = 'succeeded';
        intent.amount_received = intent.amount;
        intent.last_payment_error = null;
      }
      paymentIntents.set(intent.id, intent);

      const nextPayment = structuredClone(payment);
      if (!decline) {
        nextPayment.status = 'paid';
        nextPayment.amount_paid = nextPayment.amount_requested;
        nextPayment.status_transitions = { ...nextPayment.status_transitions, paid_at: opts.unix() };
      }
      invoicePayments.set(nextPayment.id, nextPayment);
      return { paymentIntent: structuredClone(intent), charge: structuredClone(charge), invoicePayment: structuredClone(nextPayment) };
    },
    paymentsOf: (invoiceId) => paymentsOf(invoiceId).map((p) => structuredClone(p)),
    paymentOfInvoice(invoiceId) {
      const payment = paymentsOf(invoiceId)[0];
      if (!payment) return null;
      const intent = paymentIntents.get(payment.payment.payment_intent);
      return { payment_intent: intent?.id ?? null, charge: idOf(intent?.latest_charge) };
    },
    invoiceOfPaymentIntent(paymentIntentId) {
      return [...invoicePayments.values()].find((p) => p.payment.payment_intent === paymentIntentId)?.invoice ?? null;
    },
    clear() {
      paymentIntents.clear();
      invoicePayments.clear();
    },
  };
}
