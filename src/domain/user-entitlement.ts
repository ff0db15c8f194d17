/**
 * A publisher's user can map to more than one Stripe customer (a reader who re-subscribed from another
 * checkout gets a new customer). For each feature the best entitlement among them counts, by the same
 * ordering the policy uses between subscriptions. Grants given to the user count with every customer.
 */
import { compareCandidates, decideEntitlement, decideFeatures, rankStatus } from './entitlement-policy.js';
import { featureSettingsOf } from './features.js';
import type { AccessGrant, CustomerProjection, Entitlement, PolicySettings } from './projection.js';

export interface CustomerEntitlement {
  projection: CustomerProjection;
  entitlement: Entitlement;
}

export function decideUserEntitlement(
  projections: readonly CustomerProjection[],
  now: number,
  settings: PolicySettings,
  feature: string = featureSettingsOf(settings).defaultFeature,
  grants: readonly AccessGrant[] = [],
): CustomerEntitlement | null {
  let best: CustomerEntitlement | null = null;
  for (const projection of projections) {
    const candidate = { projection, entitlement: decideEntitlement(projection, now, settings, feature, grantsFor(grants, projection)) };
    if (best === null || isBetter(candidate.entitlement, best.entitlement)) best = candidate;
  }
  return best;
}

/** Every feature any of the user's customers has or had, or a grant gives, each with its best answer. */
export function decideUserFeatures(
  projections: readonly CustomerProjection[],
  now: number,
  settings: PolicySettings,
  grants: readonly AccessGrant[] = [],
): Array<{ feature: string; best: CustomerEntitlement | null; entitlement: Entitlement }> {
  const features = new Set<string>();
  for (const projection of projections) for (const f of decideFeatures(projection, now, settings, grantsFor(grants, projection))) features.add(f.feature);
  for (const grant of grants) if (grant.until > now) features.add(grant.feature);
  return [...features].sort().map((feature) => {
    const best = decideUserEntitlement(projections, now, settings, feature, grants);
    return { feature, best, entitlement: best?.entitlement ?? decideEntitlement(null, now, settings, feature, grants) };
  });
}

/** A customer's own grants and the user's; another customer's grants stay with that customer. */
function grantsFor(grants: readonly AccessGrant[], projection: CustomerProjection): AccessGrant[] {
  return grants.filter((g) => g.customer === projection.customer || (g.customer === null && g.user !== null));
}

function isBetter(a: Entitlement, b: Entitlement): boolean {
  if (a.subscription === null || b.subscription === null) {
    return rankStatus(a.status) < rankStatus(b.status) || (rankStatus(a.status) === rankStatus(b.status) && a.subscription !== null && b.subscription === null);
  }
  return compareCandidates({ subscription: a.subscription, verdict: a }, { subscription: b.subscription, verdict: b }) < 0;
}
