/**
 * Rules about a reader's card being replaced: when a new card has arrived, which subscriptions must be
 * pointed at it (Stripe retries an invoice with the subscription's own default_payment_method before the
 * customer's), and when an entitlement answer should offer the update-card link.
 */
import { DAY_MS, tryCardExpiresAt } from './card-expiry.js';
import type { CustomerProjection, Entitlement } from './projection.js';

/** The customer's default card is new (another card, or the same card with a new expiry) since `previous`. */
export function newCardArrived(previous: CustomerProjection | null, next: CustomerProjection): boolean {
  const before = previous?.default_card ?? null;
  const after = next.default_card;
  if (previous === null || after === null || next.deleted) return false;
  return before === null || before.id !== after.id || before.exp_month !== after.exp_month || before.exp_year !== after.exp_year;
}

export interface CardRecoveryPlan {
  cardId: string;
  /** Active/past_due subscriptions charged to another card: point them at the new one. */
  moveSubscriptions: string[];
  /** Past-due subscriptions whose open invoice should be paid now, with the new card. */
  payForSubscriptions: string[];
}

/** What making the new default card count means for this customer, or null when there is nothing to do. */
export function planCardRecovery(projection: CustomerProjection, now: number): CardRecoveryPlan | null {
  const card = projection.default_card;
  if (projection.deleted || card === null) return null;
  const expiresAt = tryCardExpiresAt(card.exp_month, card.exp_year);
  if (expiresAt === null || expiresAt <= now) return null;
  const live = projection.subscriptions.filter((s) => s.status === 'active' || s.status === 'past_due');
  const plan: CardRecoveryPlan = {
    cardId: card.id,
    moveSubscriptions: live.filter((s) => s.card?.id !== card.id).map((s) => s.id),
    payForSubscriptions: live.filter((s) => s.status === 'past_due').map((s) => s.id),
  };
  return plan.moveSubscriptions.length === 0 && plan.payForSubscriptions.length === 0 ? null : plan;
}

/**
 * Whether the answer should carry an update-card link: access is at risk or lost to a card or payment
 * problem, or the card paying it expires within the widest notice window.
 */
export function needsCardUpdate(entitlement: Entitlement, now: number, noticeDays: readonly number[]): boolean {
  if (entitlement.subscription === null) return false;
  if (['grace_period', 'card_expired', 'payment_failed'].includes(entitlement.status)) return true;
  const card = entitlement.card;
  if (card === null) return false;
  if (card.expired) return true;
  const expiresAt = tryCardExpiresAt(card.exp_month, card.exp_year);
  const widest = Math.max(0, ...noticeDays);
  return expiresAt !== null && expiresAt - now <= widest * DAY_MS;
}
