/**
 * A publisher's user can map to more than one Stripe customer (a reader who re-subscribed from another
 * checkout gets a new customer). The best entitlement among them counts, by the same ordering the policy
 * uses between subscriptions.
 */
import { compareCandidates, decideEntitlement, rankStatus } from './entitlement-policy.js';
import type { CustomerProjection, Entitlement, PolicySettings } from './projection.js';

export interface CustomerEntitlement {
  projection: CustomerProjection;
  entitlement: Entitlement;
}

export function decideUserEntitlement(
  projections: readonly CustomerProjection[],
  now: number,
  settings: PolicySettings,
): CustomerEntitlement | null {
  let best: CustomerEntitlement | null = null;
  for (const projection of projections) {
    const candidate = { projection, entitlement: decideEntitlement(projection, now, settings) };
    if (best === null || isBetter(candidate.entitlement, best.entitlement)) best = candidate;
  }
  return best;
}

function isBetter(a: Entitlement, b: Entitlement): boolean {
  if (a.subscription === null || b.subscription === null) {
    return rankStatus(a.status) < rankStatus(b.status) || (a.subscription !== null && b.subscription === null);
  }
  return compareCandidates({ subscription: a.subscription, verdict: a }, { subscription: b.subscription, verdict: b }) < 0;
}
