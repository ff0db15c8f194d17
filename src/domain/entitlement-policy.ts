/**
 * The access policy: given what subgate knows of a customer and the current instant, may the reader see
 * paid content, and why (not)? Pure and deterministic, so the same projection always yields the same
 * answer, whether computed on read, for a notice, or in a test.
 *
 * Grace boundaries are half-open: a grace period covers [start, grace_until), i.e. grace_until is the first
 * instant WITHOUT access. Card expiry follows the same rule (expired from cardExpiresAt on), so with zero
 * grace days a card is 'card_expired' at exactly its expiry instant.
 */

import { DAY_MS } from './card-expiry.js';
import { effectiveExpiry } from './card-marks.js';
import { featureSettingsOf, featuresOfCustomer, featuresOfSubscription } from './features.js';
import type {
  AccessGrant,
  CardExpiryMark,
  CardSnapshot,
  CustomerProjection,
  Entitlement,
  EntitlementReason,
  EntitlementStatus,
  PolicySettings,
  SubscriptionSnapshot,
} from './projection.js';

/** The verdict for one subscription, before the best one is picked. */
export interface SubscriptionVerdict {
  status: EntitlementStatus;
  reason: EntitlementReason;
  /** ms; only for grace_period. */
  grace_until: number | null;
}

/** Best first. 'none' is never a subscription's verdict; it ranks last for completeness. */
const STATUS_RANK: readonly EntitlementStatus[] = [
  'active',
  'trialing',
  'grace_period',
  // A grant never outranks a paid subscription, even one in grace: the reader still sees the card problem.
  'granted',
  'card_expired',
  'payment_failed',
  'paused',
  'incomplete',
  'canceled',
  'none',
];

const ENTITLED_STATUSES: ReadonlySet<EntitlementStatus> = new Set(['active', 'trialing', 'grace_period', 'granted']);

/** One feature's answer. */
export interface FeatureEntitlement {
  feature: string;
  entitlement: Entitlement;
}

/**
 * Decides a reader's entitlement to one feature (DEFAULT_FEATURE when none is named) from their customer
 * projection at `now` (ms): each subscription that grants the feature is judged on its own (its card, its
 * grace), the best verdict wins, and a live grant answers when no subscription gives a better one.
 * `grants` are the reader's grants of any feature; expired ones are ignored here.
 */
export function decideEntitlement(
  projection: CustomerProjection | null,
  now: number,
  settings: PolicySettings,
  feature: string = featureSettingsOf(settings).defaultFeature,
  grants: readonly AccessGrant[] = [],
): Entitlement {
  return foldGrants(judgeFeature(projection, now, settings, feature), grants, feature, now);
}

/**
 * Every feature the reader has or had (granted by some subscription, whatever its state, or by a live
 * grant), each with its answer, sorted by feature.
 */
export function decideFeatures(
  projection: CustomerProjection | null,
  now: number,
  settings: PolicySettings,
  grants: readonly AccessGrant[] = [],
): FeatureEntitlement[] {
  const features = new Set(featuresOfCustomer(projection, featureSettingsOf(settings)));
  for (const grant of grants) if (grant.until > now) features.add(grant.feature);
  return [...features].sort().map((feature) => ({ feature, entitlement: decideEntitlement(projection, now, settings, feature, grants) }));
}

function judgeFeature(projection: CustomerProjection | null, now: number, settings: PolicySettings, feature: string): Entitlement {
  if (projection === null) return buildNoAccess('unknown_customer');
  if (projection.deleted) return buildNoAccess('customer_deleted');
  if (projection.subscriptions.length === 0) return buildNoAccess('no_subscription');

  const features = featureSettingsOf(settings);
  const products = projection.products ?? {};
  const marks = projection.expiry_marks ?? [];
  let best: { subscription: SubscriptionSnapshot; verdict: SubscriptionVerdict } | null = null;
  for (const subscription of projection.subscriptions) {
    if (!featuresOfSubscription(subscription, features, products).includes(feature)) continue;
    const candidate = { subscription, verdict: judgeSubscription(subscription, now, settings, marks) };
    if (best === null || compareCandidates(candidate, best) < 0) best = candidate;
  }
  if (best === null) return buildNoAccess('not_in_plan');

  const { subscription, verdict } = best;
  const card = subscription.card;
  return {
    entitled: isEntitledStatus(verdict.status),
    status: verdict.status,
    reason: verdict.reason,
    grace_until: verdict.grace_until,
    subscription,
    card: card === null ? null : { ...card, expired: isExpiredAt(card, marks, now) },
  };
}

/** Whether a status grants access. The single source of truth for "entitled". */
export function isEntitledStatus(status: EntitlementStatus): boolean {
  return ENTITLED_STATUSES.has(status);
}

/** Position of a status in the ranking; lower is better. */
export function rankStatus(status: EntitlementStatus): number {
  return STATUS_RANK.indexOf(status);
}

/**
 * Judges one subscription on its own at `now`. `marks` are the customer's expiry marks: a flag can make a
 * card expired before its printed date, and proof of payment keeps it from counting as expired at all.
 */
export function judgeSubscription(
  subscription: SubscriptionSnapshot,
  now: number,
  settings: PolicySettings,
  marks: readonly CardExpiryMark[] = [],
): SubscriptionVerdict {
  switch (subscription.status) {
    case 'active':
    case 'trialing':
      return judgeCurrentSubscription(subscription, now, settings, marks);
    case 'past_due': {
      // No recorded start means the failure was only just seen: the grace runs from now.
      const since = subscription.past_due_since ?? now;
      const graceUntil = since + settings.pastDueGraceDays * DAY_MS;
      return now < graceUntil
        ? { status: 'grace_period', reason: 'payment_failed_grace', grace_until: graceUntil }
        : { status: 'payment_failed', reason: 'payment_failed', grace_until: null };
    }
    case 'unpaid':
      return { status: 'payment_failed', reason: 'payment_failed', grace_until: null };
    case 'canceled':
    case 'incomplete_expired':
      return { status: 'canceled', reason: 'canceled', grace_until: null };
    case 'incomplete':
      return { status: 'incomplete', reason: 'incomplete', grace_until: null };
    case 'paused':
      return { status: 'paused', reason: 'paused', grace_until: null };
    default:
      // Unreachable with well-typed data; a stored status from a newer build must not grant access.
      return { status: 'incomplete', reason: 'incomplete', grace_until: null };
  }
}

/**
 * Orders candidates best first (negative when `a` is better): by status rank, then the later grace_until
 * among grace periods, then the later current_period_end (none counts as earliest), then the later
 * created, and finally the id, so the choice never depends on input order.
 */
export function compareCandidates(
  a: { subscription: SubscriptionSnapshot; verdict: SubscriptionVerdict },
  b: { subscription: SubscriptionSnapshot; verdict: SubscriptionVerdict },
): number {
  return (
    rankStatus(a.verdict.status) - rankStatus(b.verdict.status) ||
    compareLaterFirst(a.verdict.grace_until, b.verdict.grace_until) ||
    compareLaterFirst(a.subscription.current_period_end, b.subscription.current_period_end) ||
    compareLaterFirst(a.subscription.created, b.subscription.created) ||
    (a.subscription.id < b.subscription.id ? -1 : a.subscription.id > b.subscription.id ? 1 : 0)
  );
}

/** An active or trialing subscription loses access to an expired card, after the card grace. */
function judgeCurrentSubscription(
  subscription: SubscriptionSnapshot,
  now: number,
  settings: PolicySettings,
  marks: readonly CardExpiryMark[],
): SubscriptionVerdict {
  const current: SubscriptionVerdict =
    subscription.status === 'trialing'
      ? { status: 'trialing', reason: 'trial', grace_until: null }
      : { status: 'active', reason: 'subscribed', grace_until: null };
  const card = subscription.card;
  // A missing card or unreadable expiry is unknown, not expired: Stripe will say so if a charge fails.
  const expiresAt = card === null ? null : effectiveExpiry(card, marks);
  if (expiresAt === null || now < expiresAt) return current;

  const graceUntil = expiresAt + settings.cardExpiredGraceDays * DAY_MS;
  return now < graceUntil
    ? { status: 'grace_period', reason: 'card_expired_grace', grace_until: graceUntil }
    : { status: 'card_expired', reason: 'card_expired', grace_until: null };
}

function isExpiredAt(card: CardSnapshot, marks: readonly CardExpiryMark[], now: number): boolean {
  const expiresAt = effectiveExpiry(card, marks);
  return expiresAt !== null && expiresAt <= now;
}

function compareLaterFirst(a: number | null, b: number | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return b - a;
}

/**
 * A live grant of the feature answers when the subscriptions give nothing better. The card and the
 * subscription of the underlying answer stay on it: a grant must not hide a card problem from the reader
 * (nor from notices, which judge subscriptions alone).
 */
function foldGrants(entitlement: Entitlement, grants: readonly AccessGrant[], feature: string, now: number): Entitlement {
  let until: number | null = null;
  for (const grant of grants) {
    if (grant.feature === feature && grant.until > now && (until === null || grant.until > until)) until = grant.until;
  }
  if (until === null || rankStatus(entitlement.status) <= rankStatus('granted')) return entitlement;
  return { ...entitlement, entitled: true, status: 'granted', reason: 'manual_grant', grace_until: until };
}

function buildNoAccess(reason: 'unknown_customer' | 'customer_deleted' | 'no_subscription' | 'not_in_plan'): Entitlement {
  return { entitled: false, status: 'none', reason, grace_until: null, subscription: null, card: null };
}
