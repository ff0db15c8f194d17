/**
 * Opens the Billing Portal for an update-card link within the customer's session budget: a session opened
 * moments ago is handed out again, hits that arrive while one is being created wait for it, and past the
 * budget there is no Stripe call at all. 100 parallel hits of one link thus make one portal session.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { StripeBilling } from '../adapters/stripe-billing.js';
import type { PortalSessionStore } from '../store/billing-link-throttle.js';

export type PortalOpening =
  | { kind: 'opened'; url: string; sessionId: string }
  | { kind: 'reused'; url: string }
  | { kind: 'limited'; retryAfterMs: number };

export type OpenPortalSession = (customerId: string, returnUrl: string) => Promise<PortalOpening>;

export function createPortalSessionOpener(deps: {
  portal: Pick<StripeBilling, 'createPortalSession'>;
  sessions: PortalSessionStore;
  /** How often a waiting hit asks again, and how many times before it gives up (a 503 page). */
  pollMs?: number;
  maxPolls?: number;
}): OpenPortalSession {
  const pollMs = deps.pollMs ?? 100;
  const maxPolls = deps.maxPolls ?? 100;
  return async (customerId, returnUrl) => {
    for (let polls = 0; ; polls++) {
      const claim = await deps.sessions.claim(customerId);
      if (claim.kind === 'reuse') return { kind: 'reused', url: claim.url };
      if (claim.kind === 'limited') return claim;
      if (claim.kind === 'create') {
        let session;
        try {
          session = await deps.portal.createPortalSession({ customerId, returnUrl });
        } catch (err) {
          // The attempt still counts against the budget (Stripe was called); only the hold is lifted.
          await deps.sessions.release(customerId, claim.holder).catch(() => undefined);
          throw err;
        }
        // The reader gets the session even if it cannot be remembered: waiters then fall back on the hold lapsing.
        await deps.sessions.remember(customerId, claim.holder, session.url).catch(() => undefined);
        return { kind: 'opened', url: session.url, sessionId: session.id };
      }
      if (polls >= maxPolls) throw new Error('gave up waiting for the portal session another request is opening');
      await delay(pollMs);
    }
  };
}
