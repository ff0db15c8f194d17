/**
 * Card expiry arithmetic: the one place that turns a card's printed MM/YY into an instant, so the access
 * policy and the notice scheduler can never disagree about when a card stops working.
 *
 * A card printed "12/26" is valid through the last day of December 2026, so it expires at the first
 * instant of January 2027 (UTC). Stripe gives no time zone for card expiry; UTC is the convention here.
 */

import type { CardSnapshot } from './projection.js';

export const DAY_MS = 86_400_000;

/**
 * The first instant (ms, UTC) at which a card printed exp_month/exp_year is expired.
 * Throws RangeError on a month outside 1..12, or a year that is not a four-digit integer: such data is
 * corrupt, and guessing (e.g. reading "26" as 1926 or 2026) would silently grant or revoke access.
 */
export function cardExpiresAt(exp_month: number, exp_year: number): number {
  if (!Number.isInteger(exp_month) || exp_month < 1 || exp_month > 12) {
    throw new RangeError(`card exp_month must be an integer in 1..12, got ${String(exp_month)}`);
  }
  if (!Number.isInteger(exp_year) || exp_year < 1000 || exp_year > 9999) {
    throw new RangeError(`card exp_year must be a four-digit integer, got ${String(exp_year)}`);
  }
  // Date.UTC's month is 0-based, so passing the 1-based exp_month lands on the following month, and
  // month 12 rolls over into January of the next year.
  return Date.UTC(exp_year, exp_month, 1);
}

/** Like cardExpiresAt, but null instead of throwing, for callers that must degrade rather than fail. */
export function tryCardExpiresAt(exp_month: number, exp_year: number): number | null {
  try {
    return cardExpiresAt(exp_month, exp_year);
  } catch (error) {
    if (error instanceof RangeError) return null;
    throw error;
  }
}

/** Whether the card is expired at `now`: expiry is inclusive, so at exactly cardExpiresAt it is expired. */
export function isCardExpired(card: Pick<CardSnapshot, 'exp_month' | 'exp_year'>, now: number): boolean {
  return cardExpiresAt(card.exp_month, card.exp_year) <= now;
}

/**
 * The instants at which to send "your card expires in N days" notices: expiresAt - N days for each window.
 * Returned latest-first (the smallest N first), with duplicate windows collapsed. Instants already in the
 * past are kept: deciding what to skip or send late is the scheduler's call, not arithmetic's.
 * Throws RangeError on a window that is not a non-negative integer number of days.
 */
export function noticeInstants(expiresAt: number, noticeDays: readonly number[]): number[] {
  for (const days of noticeDays) {
    if (!Number.isInteger(days) || days < 0) {
      throw new RangeError(`notice window must be a non-negative integer of days, got ${String(days)}`);
    }
  }
  const unique = [...new Set(noticeDays)];
  return unique.map((days) => expiresAt - days * DAY_MS).sort((a, b) => b - a);
}
