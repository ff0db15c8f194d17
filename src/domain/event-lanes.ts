/**
 * What an accepted event costs and how soon it runs. Two questions the router (event-routing.ts) leaves
 * open, answered from the event type alone so the webhook can decide before a byte reaches the queue:
 *
 * - Does the event need a Stripe refresh of its own? Every refresh spends the account's Stripe rate limit,
 *   the one resource that cannot be bought. An event whose whole news Stripe always sends again, in the
 *   same moment, as another routed event, costs nothing when it is skipped: that other event's refresh
 *   re-reads everything this one could have changed. The table below names that companion; nothing else
 *   is skipped, so an unknown or new type still refreshes.
 * - Which lane does its job take? Access-changing events (a cancellation, a decline, a card change) run
 *   before routine ones, so a reader whose access changed is not left behind a backlog of renewals.
 */
import type { StripeEventLike } from './stripe-shapes.js';
import { routeEvent, type Urgency } from './event-routing.js';

/**
 * Routed events whose refresh another routed event always asks for too. Stripe sends `invoice.paid` for
 * every invoice that becomes paid, `invoice.payment_succeeded` only for those paid by a payment attempt:
 * the second is a subset of the first, sent with it. (Its card signal, a proof of payment, still runs:
 * that path costs no refresh of its own.)
 */
export const REFRESH_COVERED_BY: Readonly<Record<string, string>> = Object.freeze({
  'invoice.payment_succeeded': 'invoice.paid',
});

export function refreshNeeded(type: string): boolean {
  return !Object.hasOwn(REFRESH_COVERED_BY, type);
}

/** 'idle': the event asks for no refresh (ignored, no customer, or covered by its companion). */
export type EventLane = Urgency | 'idle';

export function laneOf(event: StripeEventLike): EventLane {
  const routing = routeEvent(event);
  if (routing.kind !== 'sync' || !refreshNeeded(event.type)) return 'idle';
  return routing.urgency;
}
