/**
 * Update-card links: signed, per customer, valid for UPDATE_CARD_LINK_TTL_DAYS. The same token opens the
 * Billing Portal (`/billing/update-card`) and brings the reader back (`/billing/return`).
 */
import { DAY_MS } from '../domain/card-expiry.js';
import { signLinkToken, verifyLinkToken, type TokenCheck } from '../domain/link-token.js';
import type { Clock, Entitlement } from '../domain/projection.js';
import { needsCardUpdate } from '../domain/card-update.js';

export interface UpdateCardLinks {
  /** A fresh link for the customer, valid from now for the configured number of days. */
  urlFor(customerId: string): string;
  returnUrlFor(token: string): string;
  verify(token: unknown): TokenCheck;
}

export function createUpdateCardLinks(deps: { secret: string; publicBaseUrl: string; ttlDays: number; clock: Clock }): UpdateCardLinks {
  const base = deps.publicBaseUrl.replace(/\/+$/, '');
  return {
    urlFor(customerId) {
      const token = signLinkToken(customerId, deps.clock.now() + deps.ttlDays * DAY_MS, deps.secret);
      return `${base}/billing/update-card?token=${encodeURIComponent(token)}`;
    },
    returnUrlFor(token) {
      return `${base}/billing/return?token=${encodeURIComponent(token)}`;
    },
    verify(token) {
      return verifyLinkToken(token, deps.secret, deps.clock.now());
    },
  };
}

/** The entitlement answer's update_card_url: a fresh link when the card needs attention, else null. */
export function createUpdateCardUrlFor(links: UpdateCardLinks, clock: Clock, noticeDays: readonly number[]) {
  return (customerId: string, entitlement: Entitlement): string | null =>
    needsCardUpdate(entitlement, clock.now(), noticeDays) ? links.urlFor(customerId) : null;
}
