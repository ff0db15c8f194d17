/**
 * Expiry marks: how a recorded flag or proof of payment changes when a card counts as expired. The printed
 * date is the default; a decline that says "expired_card" can bring it forward, and an invoice paid after
 * the date pushes it away for good (for that card at that expiry).
 */
import { tryCardExpiresAt } from './card-expiry.js';
import type { CardExpiryMark, CardSnapshot } from './projection.js';

type CardRef = Pick<CardSnapshot, 'id' | 'exp_month' | 'exp_year'>;

/** The identity of a mark: one card at one printed expiry. Contains no ':' (it becomes part of keys and job ids). */
export function markKey(card: CardRef): string {
  return `${card.id}|${card.exp_year}-${String(card.exp_month).padStart(2, '0')}`;
}

export function findMark(marks: readonly CardExpiryMark[] | undefined, card: CardRef): CardExpiryMark | null {
  if (!marks) return null;
  const key = markKey(card);
  return marks.find((mark) => markKey({ id: mark.card, exp_month: mark.exp_month, exp_year: mark.exp_year }) === key) ?? null;
}

/**
 * The instant (ms) from which this card counts as expired, or null when it never does: its expiry is
 * unreadable, or a payment after the expiry proved it still works. A flag raised before the printed
 * date (an issuer decline) brings the instant forward to the flag.
 */
export function effectiveExpiry(card: CardRef, marks: readonly CardExpiryMark[] | undefined): number | null {
  const printed = tryCardExpiresAt(card.exp_month, card.exp_year);
  const mark = findMark(marks, card);
  if (mark?.honoured_at != null) return null;
  if (mark?.flagged_at != null) return printed === null ? mark.flagged_at : Math.min(printed, mark.flagged_at);
  return printed;
}

export function isFlagged(card: CardRef, marks: readonly CardExpiryMark[] | undefined): boolean {
  const mark = findMark(marks, card);
  return mark !== null && mark.flagged_at !== null && mark.honoured_at === null;
}

export function isHonoured(card: CardRef, marks: readonly CardExpiryMark[] | undefined): boolean {
  return findMark(marks, card)?.honoured_at != null;
}
