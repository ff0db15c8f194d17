/**
 * The shape of an entitlement answer on the wire. Instants go out as ISO 8601 strings; card data is
 * limited to what a receipt shows (brand, last4, expiry).
 */
import type { Entitlement } from '../domain/projection.js';
// The wire shape is defined once, by the published client; the server must produce exactly it.
import type { EntitlementBody, FeatureAnswer } from '@subgate/client';

export type { EntitlementBody, FeatureAnswer };

/** Reader-facing wording a content service may show as is. */
const MESSAGES: Record<Entitlement['reason'], string> = {
  subscribed: 'Your subscription is active.',
  trial: 'Your trial is active.',
  card_expired_grace: 'Your card on file has expired. Make sure your card on file is up to date to keep reading.',
  card_expired: 'Your card on file has expired. Make sure your card on file is up to date to keep reading.',
  payment_failed_grace: 'Your last payment failed. Make sure your card on file is up to date to keep reading.',
  payment_failed: 'Your last payment failed. Make sure your card on file is up to date to keep reading.',
  canceled: 'Your subscription has ended. Subscribe again to keep reading.',
  incomplete: 'Your subscription is not complete yet: the first payment has not gone through.',
  paused: 'Your subscription is paused.',
  manual_grant: 'You have been given access.',
  not_in_plan: 'Your subscription does not include this.',
  no_subscription: 'Subscribe to read this article.',
  customer_deleted: 'Subscribe to read this article.',
  unknown_customer: 'Subscribe to read this article.',
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const subscriptionOf = (entitlement: Entitlement): FeatureAnswer['subscription'] => {
  const sub = entitlement.subscription;
  return sub === null ? null : { id: sub.id, status: sub.status, current_period_end: iso(sub.current_period_end) };
};

export function toFeatureAnswer(feature: string, entitlement: Entitlement): FeatureAnswer {
  return {
    feature,
    entitled: entitlement.entitled,
    status: entitlement.status,
    reason: entitlement.reason,
    grace_until: iso(entitlement.grace_until),
    subscription: subscriptionOf(entitlement),
  };
}

export function toEntitlementBody(input: {
  customer: string | null;
  user: string | null;
  entitlement: Entitlement;
  updateCardUrl: string | null;
  now: number;
  /** The feature the answer is for, and every feature's answer. */
  feature: string;
  features: ReadonlyArray<{ feature: string; entitlement: Entitlement }>;
}): EntitlementBody {
  const { entitlement } = input;
  const card = entitlement.card;
  return {
    customer: input.customer,
    user: input.user,
    entitled: entitlement.entitled,
    status: entitlement.status,
    reason: entitlement.reason,
    message: MESSAGES[entitlement.reason],
    grace_until: iso(entitlement.grace_until),
    subscription: subscriptionOf(entitlement),
    card:
      card === null
        ? null
        : { brand: card.brand, last4: card.last4, exp_month: card.exp_month, exp_year: card.exp_year, expired: card.expired },
    update_card_url: input.updateCardUrl,
    checked_at: new Date(input.now).toISOString(),
    feature: input.feature,
    features: input.features.map((f) => toFeatureAnswer(f.feature, f.entitlement)),
  };
}
