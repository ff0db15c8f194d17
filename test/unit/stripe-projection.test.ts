import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { CustomerProjection } from '../../src/domain/projection.js';
import {
  cardFromPaymentSource,
  normalizeCardBrand,
  projectCustomer,
  projectMissingCustomer,
  unresolvedPaymentRefs,
} from '../../src/domain/stripe-projection.js';
import type {
  StripeCustomerLike,
  StripeInvoiceLike,
  StripeLegacyCardLike,
  StripeLegacySourceLike,
  StripePaymentMethodLike,
  StripeSubscriptionLike,
} from '../../src/domain/stripe-shapes.js';

// Builders shaped after captured payloads (stripe-ruby-mock 2020-08-27, stripe-openapi current), trimmed
// to the fields subgate reads. Times in Stripe objects are seconds.
const READ_AT = Date.parse('2026-06-15T12:00:00.000Z');
const KEY = 'subgate_user_id';
const sec = (iso: string): number => Date.parse(iso) / 1000;

function buildPaymentMethod(overrides: Partial<StripePaymentMethodLike> = {}): StripePaymentMethodLike {
  return {
    id: 'pm_visa',
    object: 'payment_method',
    type: 'card',
    card: { brand: 'visa', last4: '4242', exp_month: 8, exp_year: 2030 },
    ...overrides,
  };
}

function buildLegacyCard(overrides: Partial<StripeLegacyCardLike> = {}): StripeLegacyCardLike {
  return { id: 'card_legacy', object: 'card', brand: 'Visa', last4: '4242', exp_month: 3, exp_year: 2027, ...overrides };
}

function buildLegacySource(overrides: Partial<StripeLegacySourceLike> = {}): StripeLegacySourceLike {
  return {
    id: 'src_legacy',
    object: 'source',
    type: 'card',
    card: { brand: 'Visa', last4: '4242', exp_month: 6, exp_year: 2028 },
    ...overrides,
  };
}

function buildCustomer(overrides: Partial<StripeCustomerLike> = {}): StripeCustomerLike {
  return {
    id: 'cus_1',
    object: 'customer',
    email: 'reader@example.com',
    metadata: { [KEY]: 'user_42' },
    default_source: null,
    invoice_settings: { default_payment_method: null },
    ...overrides,
  };
}

/** Legacy API shape (2020-08-27): the billing period is on the subscription. */
function buildLegacySubscription(overrides: Partial<StripeSubscriptionLike> = {}): StripeSubscriptionLike {
  return {
    id: 'sub_legacy',
    object: 'subscription',
    customer: 'cus_1',
    status: 'active',
    created: sec('2026-01-10T00:00:00Z'),
    cancel_at_period_end: false,
    current_period_end: sec('2026-07-10T00:00:00Z'),
    items: { data: [{ id: 'si_1' }] },
    default_payment_method: null,
    default_source: null,
    latest_invoice: 'in_1',
    ...overrides,
  };
}

/** Current API shape (2025+): no top-level period; each item carries its own. */
function buildCurrentSubscription(overrides: Partial<StripeSubscriptionLike> = {}): StripeSubscriptionLike {
  return {
    id: 'sub_current',
    object: 'subscription',
    customer: 'cus_1',
    status: 'active',
    created: sec('2026-02-10T00:00:00Z'),
    cancel_at_period_end: false,
    items: {
      data: [
        { id: 'si_a', current_period_start: sec('2026-06-10T00:00:00Z'), current_period_end: sec('2026-07-10T00:00:00Z') },
        { id: 'si_b', current_period_start: sec('2026-06-01T00:00:00Z'), current_period_end: sec('2026-09-01T00:00:00Z') },
      ],
    },
    default_payment_method: null,
    default_source: null,
    latest_invoice: null,
    ...overrides,
  };
}

function buildInvoice(finalizedAt: number | null): StripeInvoiceLike {
  return {
    id: 'in_1',
    object: 'invoice',
    customer: 'cus_1',
    status: 'open',
    status_transitions: { finalized_at: finalizedAt, paid_at: null },
    subscription: 'sub_legacy',
  };
}

function project(
  customer: StripeCustomerLike,
  subscriptions: StripeSubscriptionLike[],
  previous: CustomerProjection | null = null,
  readAt = READ_AT,
): CustomerProjection {
  return projectCustomer({ customer, subscriptions, readAt, userIdMetadataKey: KEY, previous });
}

describe('projectCustomer: the customer', () => {
  it('reads the user id from metadata, the email, and stamps the read instant', () => {
    const projection = project(buildCustomer(), []);
    assert.deepEqual(projection, {
      customer: 'cus_1',
      user: 'user_42',
      email: 'reader@example.com',
      deleted: false,
      default_card: null,
      subscriptions: [],
      read_at: READ_AT,
    });
  });

  it('has no user when the metadata key is missing or blank', () => {
    assert.equal(project(buildCustomer({ metadata: {} }), []).user, null);
    assert.equal(project(buildCustomer({ metadata: { [KEY]: '  ' } }), []).user, null);
  });

  it('prefers invoice_settings.default_payment_method over default_source for the customer card', () => {
    const customer = buildCustomer({
      invoice_settings: { default_payment_method: buildPaymentMethod() },
      default_source: buildLegacyCard(),
    });
    assert.equal(project(customer, []).default_card?.id, 'pm_visa');
  });

  it('projects a deleted customer as deleted, keeping only the previous user id', () => {
    const previous = project(buildCustomer(), [buildLegacySubscription()]);
    const projection = projectCustomer({
      customer: { id: 'cus_1', object: 'customer', deleted: true },
      subscriptions: [buildLegacySubscription()],
      readAt: READ_AT + 1,
      userIdMetadataKey: KEY,
      previous,
    });
    assert.deepEqual(projection, {
      customer: 'cus_1',
      user: 'user_42',
      email: null,
      deleted: true,
      default_card: null,
      subscriptions: [],
      read_at: READ_AT + 1,
    });
  });

  it('projects a customer Stripe no longer knows (404) like a deleted one', () => {
    const projection = projectMissingCustomer('cus_gone', READ_AT, null);
    assert.equal(projection.deleted, true);
    assert.equal(projection.user, null);
    assert.deepEqual(projection.subscriptions, []);
  });

  it('ignores subscriptions that belong to another customer', () => {
    const foreign = buildLegacySubscription({ id: 'sub_foreign', customer: 'cus_other' });
    const expanded = buildLegacySubscription({ id: 'sub_mine', customer: buildCustomer() });
    assert.deepEqual(project(buildCustomer(), [foreign, expanded]).subscriptions.map((s) => s.id), ['sub_mine']);
  });
});

describe('projectCustomer: subscriptions in both API shapes', () => {
  it('reads the legacy top-level current_period_end and converts seconds to ms', () => {
    const [snapshot] = project(buildCustomer(), [buildLegacySubscription()]).subscriptions;
    assert.equal(snapshot?.current_period_end, Date.parse('2026-07-10T00:00:00Z'));
    assert.equal(snapshot?.created, Date.parse('2026-01-10T00:00:00Z'));
    assert.equal(snapshot?.status, 'active');
    assert.equal(snapshot?.cancel_at_period_end, false);
  });

  it('takes the latest item current_period_end in the current shape', () => {
    const [snapshot] = project(buildCustomer(), [buildCurrentSubscription()]).subscriptions;
    assert.equal(snapshot?.current_period_end, Date.parse('2026-09-01T00:00:00Z'));
  });

  it('has no current_period_end when neither shape provides one', () => {
    const subscription = buildCurrentSubscription({ items: { data: [{ id: 'si_1' }] } });
    assert.equal(project(buildCustomer(), [subscription]).subscriptions[0]?.current_period_end, null);
  });

  it('sorts subscriptions newest first', () => {
    const projection = project(buildCustomer(), [buildLegacySubscription(), buildCurrentSubscription()]);
    assert.deepEqual(projection.subscriptions.map((s) => s.id), ['sub_current', 'sub_legacy']);
  });

  it('reads a status Stripe added later as incomplete, which grants nothing', () => {
    const subscription = buildLegacySubscription({ status: 'something_new' });
    assert.equal(project(buildCustomer(), [subscription]).subscriptions[0]?.status, 'incomplete');
  });
});

describe('projectCustomer: which card pays a subscription', () => {
  const cardOf = (customer: StripeCustomerLike, subscription: StripeSubscriptionLike) =>
    project(customer, [subscription]).subscriptions[0]?.card;

  it("uses the subscription's own default_payment_method first", () => {
    const subscription = buildCurrentSubscription({
      default_payment_method: buildPaymentMethod({ id: 'pm_sub' }),
      default_source: buildLegacyCard(),
    });
    const customer = buildCustomer({ invoice_settings: { default_payment_method: buildPaymentMethod({ id: 'pm_cus' }) } });
    assert.deepEqual(cardOf(customer, subscription), {
      id: 'pm_sub',
      brand: 'visa',
      last4: '4242',
      exp_month: 8,
      exp_year: 2030,
    });
  });

  it("falls back to the subscription's default_source, then the customer's defaults", () => {
    const customer = buildCustomer({
      invoice_settings: { default_payment_method: buildPaymentMethod({ id: 'pm_cus' }) },
      default_source: buildLegacyCard({ id: 'card_cus' }),
    });
    assert.equal(cardOf(customer, buildLegacySubscription({ default_source: buildLegacyCard({ id: 'card_sub' }) }))?.id, 'card_sub');
    assert.equal(cardOf(customer, buildLegacySubscription())?.id, 'pm_cus');
    const withoutPm = buildCustomer({ default_source: buildLegacyCard({ id: 'card_cus' }) });
    assert.equal(cardOf(withoutPm, buildLegacySubscription())?.id, 'card_cus');
  });

  it('lowercases a legacy card brand like PaymentMethods spell it', () => {
    const card = cardOf(buildCustomer({ default_source: buildLegacyCard() }), buildLegacySubscription());
    assert.deepEqual(card, { id: 'card_legacy', brand: 'visa', last4: '4242', exp_month: 3, exp_year: 2027 });
  });

  it('reads the card inside a legacy Sources API source', () => {
    const card = cardOf(buildCustomer({ default_source: buildLegacySource() }), buildLegacySubscription());
    assert.deepEqual(card, { id: 'src_legacy', brand: 'visa', last4: '4242', exp_month: 6, exp_year: 2028 });
  });

  it('has no card when the paying method is not a card, without falling back to another card', () => {
    const sepa = buildPaymentMethod({ id: 'pm_sepa', type: 'sepa_debit', card: null });
    const customer = buildCustomer({ default_source: buildLegacyCard() });
    assert.equal(cardOf(customer, buildCurrentSubscription({ default_payment_method: sepa })), null);
    const achSource = buildLegacySource({ type: 'ach_credit_transfer', card: null });
    assert.equal(cardOf(buildCustomer({ default_source: achSource }), buildLegacySubscription()), null);
  });

  it('has no card when the paying reference is an unexpanded id', () => {
    const customer = buildCustomer({ invoice_settings: { default_payment_method: buildPaymentMethod() } });
    assert.equal(cardOf(customer, buildCurrentSubscription({ default_payment_method: 'pm_unexpanded' })), null);
  });

  it("resolves an unexpanded default_source from the customer's expanded sources list", () => {
    const customer = buildCustomer({ default_source: 'card_legacy', sources: { data: [buildLegacyCard()] } });
    assert.equal(cardOf(customer, buildLegacySubscription())?.id, 'card_legacy');
  });

  it('resolves unexpanded ids from separately fetched payment methods', () => {
    const projection = projectCustomer({
      customer: buildCustomer(),
      subscriptions: [buildCurrentSubscription({ default_payment_method: 'pm_visa' })],
      readAt: READ_AT,
      userIdMetadataKey: KEY,
      previous: null,
      paymentSources: [buildPaymentMethod()],
    });
    assert.equal(projection.subscriptions[0]?.card?.id, 'pm_visa');
  });

  it('drops a card whose expiry is nonsense instead of guessing', () => {
    const broken = buildPaymentMethod({ card: { brand: 'visa', last4: '4242', exp_month: 0, exp_year: 2030 } });
    assert.equal(cardOf(buildCustomer(), buildCurrentSubscription({ default_payment_method: broken })), null);
  });
});

describe('projectCustomer: when a payment failure began', () => {
  const pastDue = (overrides: Partial<StripeSubscriptionLike> = {}) =>
    buildLegacySubscription({ status: 'past_due', ...overrides });

  it('uses the failing invoice finalization when the latest invoice is expanded', () => {
    const subscription = pastDue({ latest_invoice: buildInvoice(sec('2026-06-10T00:00:00Z')) });
    assert.equal(project(buildCustomer(), [subscription]).subscriptions[0]?.past_due_since, Date.parse('2026-06-10T00:00:00Z'));
  });

  it('uses the read instant when nothing earlier is known', () => {
    assert.equal(project(buildCustomer(), [pastDue()]).subscriptions[0]?.past_due_since, READ_AT);
    assert.equal(project(buildCustomer(), [pastDue({ latest_invoice: buildInvoice(null) })]).subscriptions[0]?.past_due_since, READ_AT);
  });

  it('keeps the start seen by a previous read, so refreshes do not extend the grace', () => {
    const first = project(buildCustomer(), [pastDue()]);
    const later = project(buildCustomer(), [pastDue()], first, READ_AT + 86_400_000);
    assert.equal(later.subscriptions[0]?.past_due_since, READ_AT);
  });

  it('takes the earliest of the previous start and the invoice finalization', () => {
    const first = project(buildCustomer(), [pastDue()]);
    const invoice = buildInvoice(sec('2026-06-01T00:00:00Z'));
    const later = project(buildCustomer(), [pastDue({ latest_invoice: invoice })], first, READ_AT + 1000);
    assert.equal(later.subscriptions[0]?.past_due_since, Date.parse('2026-06-01T00:00:00Z'));
  });

  it('never dates the start after the read, even if the invoice says so', () => {
    const subscription = pastDue({ latest_invoice: buildInvoice(READ_AT / 1000 + 3600) });
    assert.equal(project(buildCustomer(), [subscription]).subscriptions[0]?.past_due_since, READ_AT);
  });

  it('restarts the count when the subscription recovered in between', () => {
    const recovered = project(buildCustomer(), [buildLegacySubscription({ status: 'active' })]);
    const again = project(buildCustomer(), [pastDue()], recovered, READ_AT + 5000);
    assert.equal(again.subscriptions[0]?.past_due_since, READ_AT + 5000);
  });

  it('is null for a subscription that is not past_due', () => {
    const subscription = buildLegacySubscription({ status: 'unpaid', latest_invoice: buildInvoice(sec('2026-06-01T00:00:00Z')) });
    assert.equal(project(buildCustomer(), [subscription]).subscriptions[0]?.past_due_since, null);
  });
});

describe('unresolvedPaymentRefs', () => {
  it('lists the unexpanded ids that decide a card, once each', () => {
    const customer = buildCustomer({ invoice_settings: { default_payment_method: 'pm_customer' } });
    const refs = unresolvedPaymentRefs({
      customer,
      subscriptions: [
        buildCurrentSubscription({ id: 'sub_a', default_payment_method: 'pm_sub' }),
        buildCurrentSubscription({ id: 'sub_b', default_payment_method: 'pm_sub' }),
        buildLegacySubscription(),
      ],
    });
    assert.deepEqual(refs.sort(), ['pm_customer', 'pm_sub']);
  });

  it('skips ids shadowed by an expanded higher-precedence method', () => {
    const subscription = buildCurrentSubscription({ default_payment_method: buildPaymentMethod(), default_source: 'card_shadowed' });
    assert.deepEqual(unresolvedPaymentRefs({ customer: buildCustomer(), subscriptions: [subscription] }), []);
  });

  it('skips ids resolvable from the sources list or from already fetched methods', () => {
    const customer = buildCustomer({ default_source: 'card_legacy', sources: { data: [buildLegacyCard()] } });
    const subscription = buildCurrentSubscription({ default_payment_method: 'pm_visa' });
    assert.deepEqual(
      unresolvedPaymentRefs({ customer, subscriptions: [subscription], paymentSources: [buildPaymentMethod()] }),
      [],
    );
  });

  it('has nothing to resolve for a deleted customer', () => {
    assert.deepEqual(unresolvedPaymentRefs({ customer: { id: 'cus_1', object: 'customer', deleted: true }, subscriptions: [] }), []);
  });
});

describe('card helpers', () => {
  it('maps legacy display brands to PaymentMethod brand codes', () => {
    assert.equal(normalizeCardBrand('Visa'), 'visa');
    assert.equal(normalizeCardBrand('American Express'), 'amex');
    assert.equal(normalizeCardBrand('MasterCard'), 'mastercard');
    assert.equal(normalizeCardBrand('Diners Club'), 'diners');
    assert.equal(normalizeCardBrand('visa'), 'visa');
  });

  it('has no card for non-card sources such as bank accounts', () => {
    assert.equal(cardFromPaymentSource({ id: 'ba_1', object: 'bank_account' }), null);
  });
});
