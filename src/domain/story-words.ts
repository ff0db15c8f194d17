/**
 * A reader's story in words, for the operator's customer page and timeline: what changed between two
 * projections, why the policy answers what it answers, how a card reads. Pure; e-mail addresses only
 * ever masked.
 */
import type { CardSnapshot, CustomerProjection, Entitlement, EntitlementReason, SubscriptionSnapshot } from './projection.js';
import type { EntitlementSummary } from './entitlement-change.js';
import { maskEmail } from './mask-email.js';

export function cardInWords(card: Pick<CardSnapshot, 'brand' | 'last4' | 'exp_month' | 'exp_year'> | null): string {
  if (!card) return 'no card';
  return `${card.brand} ·${card.last4} (expires ${String(card.exp_month).padStart(2, '0')}/${card.exp_year})`;
}

const day = (ms: number | null) => (ms === null ? 'none' : new Date(ms).toISOString().slice(0, 10));

/** What a refresh changed, one phrase per change; empty when nothing a reader's access depends on moved. */
export function projectionChanges(previous: CustomerProjection | null, next: CustomerProjection): string[] {
  if (previous === null) {
    const subs = next.subscriptions.map((s) => `${s.id} ${s.status}`).join(', ');
    return [`first seen${next.deleted ? ' (deleted)' : ''}: ${subs || 'no subscriptions'}; card ${cardInWords(next.default_card)}`];
  }
  const changes: string[] = [];
  if (previous.deleted !== next.deleted) changes.push(next.deleted ? 'customer deleted in Stripe' : 'customer no longer deleted');
  if (previous.email !== next.email) changes.push(`e-mail ${maskEmail(previous.email) ?? 'none'} -> ${maskEmail(next.email) ?? 'none'}`);
  if (previous.user !== next.user) changes.push(`user id ${previous.user ?? 'none'} -> ${next.user ?? 'none'}`);
  if (cardKey(previous.default_card) !== cardKey(next.default_card)) {
    changes.push(`default card ${cardInWords(previous.default_card)} -> ${cardInWords(next.default_card)}`);
  }
  const before = new Map(previous.subscriptions.map((s) => [s.id, s]));
  for (const sub of next.subscriptions) {
    const old = before.get(sub.id);
    before.delete(sub.id);
    if (!old) {
      changes.push(`new subscription ${sub.id} (${sub.status})`);
      continue;
    }
    changes.push(...subscriptionChanges(old, sub));
  }
  for (const gone of before.values()) changes.push(`subscription ${gone.id} no longer listed`);
  return changes;
}

function subscriptionChanges(old: SubscriptionSnapshot, sub: SubscriptionSnapshot): string[] {
  const out: string[] = [];
  if (old.status !== sub.status) out.push(`${sub.id} status ${old.status} -> ${sub.status}`);
  if (old.cancel_at_period_end !== sub.cancel_at_period_end) out.push(`${sub.id} ${sub.cancel_at_period_end ? 'set to cancel at period end' : 'no longer cancelling'}`);
  if (old.current_period_end !== sub.current_period_end) out.push(`${sub.id} period ends ${day(old.current_period_end)} -> ${day(sub.current_period_end)}`);
  if (cardKey(old.card) !== cardKey(sub.card)) out.push(`${sub.id} paid by ${cardInWords(sub.card)} (was ${cardInWords(old.card)})`);
  return out;
}

const cardKey = (card: CardSnapshot | null) => (card ? `${card.id}|${card.exp_month}|${card.exp_year}` : '');

const REASONS: Record<EntitlementReason, string> = {
  subscribed: 'the subscription is active and paid',
  trial: 'the subscription is in its free trial',
  card_expired_grace: 'the card on file has expired; access continues during the card grace period',
  card_expired: 'the card on file has expired (and any grace period is over); a new card restores access',
  payment_failed_grace: 'the last renewal payment failed; access continues during the payment grace period while Stripe retries',
  payment_failed: 'the renewal payment failed and the payment grace period is over',
  canceled: 'the subscription is cancelled',
  incomplete: 'the first payment of the subscription has not gone through',
  paused: 'the subscription is paused',
  no_subscription: 'the customer has no subscription',
  customer_deleted: 'the customer was deleted in Stripe',
  unknown_customer: 'subgate knows no such customer',
  manual_grant: 'a support grant gives this feature until its end, whatever the subscriptions say',
  not_in_plan: 'no subscription of the reader includes this feature',
};

/** "Has access: …" / "No access: …", with the grace end and the deciding card when there are. */
export function answerInWords(entitlement: Pick<Entitlement, 'entitled' | 'reason' | 'grace_until' | 'subscription' | 'card'>): string {
  const parts = [`${entitlement.entitled ? 'Has access' : 'No access'}: ${REASONS[entitlement.reason] ?? entitlement.reason}.`];
  if (entitlement.grace_until !== null) parts.push(`Access ends ${new Date(entitlement.grace_until).toISOString()} unless it is fixed.`);
  if (entitlement.subscription) parts.push(`Decided by ${entitlement.subscription.id} (${entitlement.subscription.status}), paid by ${cardInWords(entitlement.card)}${entitlement.card?.expired ? ', expired' : ''}.`);
  return parts.join(' ');
}

export function summaryInWords(summary: EntitlementSummary | null): string {
  if (summary === null) return 'nothing published';
  return `${summary.entitled ? 'access' : 'no access'} (${summary.status}, ${summary.reason})`;
}
