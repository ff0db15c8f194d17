/**
 * GET /v1/entitlements?customer=cus_… | ?user=…[&feature=…]: may this reader see paid content (of one
 * feature), and why; and every feature the reader has or had. One Redis round trip (a pipeline: the
 * customer hash or the user script, and the reader's grants), then the pure policy.
 *
 * It sits on every article view, so besides the Express route there is a fast path that answers it on
 * the bare node:http request before Express runs (Express's dispatch and res.json cost more than the
 * route's own work). Both call the same handler, so they answer byte for byte alike.
 */
import { parse as parseQueryString, type ParsedUrlQuery } from 'node:querystring';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Router } from 'express';
import type { Clock, PolicySettings, Entitlement } from '../domain/projection.js';
import { decideEntitlement, decideFeatures } from '../domain/entitlement-policy.js';
import { decideUserEntitlement, decideUserFeatures } from '../domain/user-entitlement.js';
import { featureSettingsOf, isFeatureKey } from '../domain/features.js';
import { isCustomerId } from '../domain/stripe-ids.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import { parseGrants, type grantKeys } from '../store/grant-store.js';
import { requireScope, type TokenCheck, type TokenScope } from './bearer-auth.js';
import { ValidationError } from './errors.js';
import { toEntitlementBody } from './entitlement-response.js';

export interface EntitlementsRouteDeps {
  store: Pick<SubscriberStore, 'readAlong' | 'readByUserAlong'>;
  /** Where a reader's grants live (the grant store's key helper): read in the same round trip. */
  grantKeys: ReturnType<typeof grantKeys>;
  checkToken: TokenCheck;
  clock: Clock;
  policy: PolicySettings;
  /** Counts each answer by token name and status (metrics); optional, one call per answer. */
  onAnswer?: (tokenName: string, status: string) => void;
  /** Link for a reader to fix their card; null until a link signer is configured. Only `links` tokens get one. */
  updateCardUrlFor?: (customerId: string, entitlement: Entitlement) => string | null;
}

// Any printable text without controls; the publisher decides what its user ids look like.
const USER_ID = /^[^\u0000-\u001f\u007f]{1,256}$/;

type Lookup = { by: 'customer'; customer: string } | { by: 'user'; user: string };

type Query = Record<string, unknown> | ParsedUrlQuery;

function parseLookup(query: Query): Lookup {
  const { customer, user } = query;
  if (customer !== undefined && user !== undefined) {
    throw new ValidationError('invalid_query', 'Give either customer or user, not both.');
  }
  if (customer !== undefined) {
    if (!isCustomerId(customer)) {
      throw new ValidationError('invalid_customer', 'customer must be one Stripe customer id (cus_…).');
    }
    return { by: 'customer', customer };
  }
  if (user !== undefined) {
    if (typeof user !== 'string' || !USER_ID.test(user)) {
      throw new ValidationError('invalid_user', 'user must be one id of 1 to 256 printable characters.');
    }
    return { by: 'user', user };
  }
  throw new ValidationError('invalid_query', 'Give customer=cus_… or user=….');
}

/** The feature asked about, or null for the default. */
function parseFeature(query: Query): string | null {
  const { feature } = query;
  if (feature === undefined) return null;
  if (!isFeatureKey(feature)) {
    throw new ValidationError('invalid_feature', 'feature must be one feature key: lowercase letters, digits, _ . - (at most 64).');
  }
  return feature;
}

/** `check` answers without links, `links` answers with them; either may ask. */
const ASK_SCOPES: readonly TokenScope[] = ['check', 'links'];

export type EntitlementsHandler = (headers: IncomingHttpHeaders, query: Query, res: ServerResponse) => Promise<void>;

export function createEntitlementsHandler(deps: EntitlementsRouteDeps): EntitlementsHandler {
  const linkFor = deps.updateCardUrlFor ?? (() => null);
  const defaultFeature = featureSettingsOf(deps.policy).defaultFeature;

  return async (headers, query, res) => {
    const principal = requireScope(deps.checkToken(headers.authorization), ASK_SCOPES, 'ask for entitlements');
    // A token without `links` never causes a link to be signed: a leaked check token mints nothing.
    const withLinks = principal.scopes.has('links');
    const lookup = parseLookup(query);
    // Without feature= the answer is for the default feature in every mode: a content service that
    // forgets the parameter fails closed (a Puzzles reader is not let into News).
    const feature = parseFeature(query) ?? defaultFeature;
    const now = deps.clock.now();

    let body;
    if (lookup.by === 'customer') {
      const { projection, also } = await deps.store.readAlong(lookup.customer, deps.grantKeys.customer(lookup.customer));
      const grants = parseGrants(also);
      const features = decideFeatures(projection, now, deps.policy, grants);
      // The policy runs once per feature: the asked one is among those listed, or one the reader lacks.
      const entitlement = features.find((f) => f.feature === feature)?.entitlement ?? decideEntitlement(projection, now, deps.policy, feature, grants);
      body = toEntitlementBody({
        customer: lookup.customer,
        user: projection?.user ?? null,
        entitlement,
        updateCardUrl: withLinks && projection ? linkFor(lookup.customer, entitlement) : null,
        now,
        feature,
        features,
      });
    } else {
      const { projections, also } = await deps.store.readByUserAlong(lookup.user, deps.grantKeys.user(lookup.user));
      const grants = parseGrants(also);
      const features = decideUserFeatures(projections, now, deps.policy, grants);
      const listed = features.find((f) => f.feature === feature);
      const best = listed ? listed.best : decideUserEntitlement(projections, now, deps.policy, feature, grants);
      const entitlement = listed ? listed.entitlement : (best?.entitlement ?? decideEntitlement(null, now, deps.policy, feature, grants));
      const customer = best?.projection.customer ?? null;
      body = toEntitlementBody({
        customer,
        user: lookup.user,
        entitlement,
        updateCardUrl: withLinks && customer && best ? linkFor(customer, entitlement) : null,
        now,
        feature,
        features,
      });
    }
    deps.onAnswer?.(principal.name, body.status);
    const json = JSON.stringify(body);
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(json),
      'Cache-Control': 'private, no-store',
    });
    res.end(json);
  };
}

export function createEntitlementsRouter(handle: EntitlementsHandler): Router {
  const router = Router();
  router.get('/v1/entitlements', (req, res) => handle(req.headers, req.query, res));
  return router;
}

/**
 * Answers GET /v1/entitlements on the bare request; returns false for anything else, which then goes
 * to Express. `querystring.parse` is what Express's 'simple' parser uses: repeated keys stay arrays.
 */
export function createEntitlementsFastPath(
  handle: EntitlementsHandler,
  onError: (err: unknown, req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '';
    const mark = url.indexOf('?');
    if (req.method !== 'GET' || (mark === -1 ? url : url.slice(0, mark)) !== '/v1/entitlements') return false;
    handle(req.headers, parseQueryString(mark === -1 ? '' : url.slice(mark + 1)), res).catch((err) => onError(err, req, res));
    return true;
  };
}
