/**
 * /admin/grants: access to one feature given by hand (a support desk), until an instant, with who and
 * why. Mounted inside the admin router, behind ADMIN_TOKEN.
 *   POST   /admin/grants            {"customer":"cus_…" | "user":"…", "feature", "until" (ISO), "reason", "by"?} -> 201 the grant
 *   DELETE /admin/grants/:id        -> 204 (404 when there is none)
 *   GET    /admin/grants?customer=… | ?user=…  -> {grants: […]}, each with `active`
 * A grant counts on answers by its customer and by that customer's user (a user's grant: by the user and
 * by each of the user's customers); GET lists the grants that count for the reader asked about. Each
 * change is published on the change feed, and a grant's end is published at its instant.
 */
import { randomBytes } from 'node:crypto';
import express, { Router } from 'express';
import type { AccessGrant, Clock } from '../domain/projection.js';
import { isFeatureKey } from '../domain/features.js';
import { isCustomerId } from '../domain/stripe-ids.js';
import type { GrantStore } from '../store/grant-store.js';
import type { GrantChanges } from '../flows/grant-changes.js';
import { NotFoundError, ValidationError } from './errors.js';

export interface GrantsRouteDeps {
  grants: Pick<GrantStore, 'forCustomer' | 'forUser'>;
  changes: Pick<GrantChanges, 'create' | 'revoke'>;
  clock: Clock;
  /** The features a grant may name: DEFAULT_FEATURE, the config map's, the Stripe products' read so far. */
  knownFeatures: () => Promise<ReadonlySet<string>>;
}

const USER_ID = /^[^\u0000-\u001f\u007f]{1,256}$/;
const GRANT_ID = /^gr_[A-Za-z0-9]{24}$/;
const REASON = /^[^\u0000-\u0008\u000b-\u001f\u007f]{1,500}$/;
const BY = /^[^\u0000-\u001f\u007f]{1,100}$/;
/** A grant is a stopgap, not a subscription: at most a year and a day. */
const MAX_GRANT_MS = 366 * 86_400_000;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function newGrantId(): string {
  const bytes = randomBytes(24);
  let id = 'gr_';
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return id;
}

function toWire(grant: AccessGrant, now: number) {
  return {
    id: grant.id,
    customer: grant.customer,
    user: grant.user,
    feature: grant.feature,
    until: new Date(grant.until).toISOString(),
    reason: grant.reason,
    created_by: grant.created_by,
    created_at: new Date(grant.created_at).toISOString(),
    active: grant.until > now,
  };
}

type Subject = { customer: string; user: null } | { customer: null; user: string };

function parseSubject(input: Record<string, unknown>): Subject {
  const { customer, user } = input;
  if ((customer === undefined) === (user === undefined)) throw new ValidationError('invalid_subject', 'Give exactly one of customer (cus_…) or user.');
  if (customer !== undefined) {
    if (!isCustomerId(customer)) throw new ValidationError('invalid_customer', 'customer must be one Stripe customer id (cus_…).');
    return { customer, user: null };
  }
  if (typeof user !== 'string' || !USER_ID.test(user)) throw new ValidationError('invalid_user', 'user must be one id of 1 to 256 printable characters.');
  return { customer: null, user };
}

export function createGrantsRouter(deps: GrantsRouteDeps): Router {
  const router = Router();

  router.post('/admin/grants', express.json({ limit: '4kb' }), async (req, res) => {
    const body = req.body as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('invalid_body', 'Send a JSON object.');
    const input = body as Record<string, unknown>;
    const subject = parseSubject(input);
    const { feature, until, reason, by } = input;
    if (!isFeatureKey(feature)) throw new ValidationError('invalid_feature', 'feature must be a feature key: lowercase letters, digits, _ . - (at most 64).');
    if (!(await deps.knownFeatures()).has(feature)) throw new ValidationError('unknown_feature', `No product grants the feature "${feature}".`);
    const untilMs = typeof until === 'string' && ISO_INSTANT.test(until) ? Date.parse(until) : Number.NaN;
    if (!Number.isFinite(untilMs)) throw new ValidationError('invalid_until', 'until must be an ISO 8601 instant with a time zone (e.g. 2027-01-31T00:00:00Z).');
    const now = deps.clock.now();
    if (untilMs <= now) throw new ValidationError('invalid_until', 'until must be in the future.');
    if (untilMs - now > MAX_GRANT_MS) throw new ValidationError('invalid_until', 'until must be at most 366 days away.');
    if (typeof reason !== 'string' || !REASON.test(reason.trim())) throw new ValidationError('invalid_reason', 'reason must say why, in 1 to 500 characters.');
    if (by !== undefined && (typeof by !== 'string' || !BY.test(by))) throw new ValidationError('invalid_by', 'by must name who grants, in 1 to 100 printable characters.');
    const grant: AccessGrant = {
      id: newGrantId(),
      ...subject,
      feature,
      until: untilMs,
      reason: reason.trim(),
      created_by: typeof by === 'string' ? by : 'admin',
      created_at: now,
    };
    await deps.changes.create(grant);
    res.status(201).setHeader('Cache-Control', 'no-store').json(toWire(grant, now));
  });

  router.delete('/admin/grants/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!GRANT_ID.test(id)) throw new ValidationError('invalid_grant', 'A grant id is gr_ and 24 letters or digits.');
    const revoked = await deps.changes.revoke(id);
    if (!revoked) throw new NotFoundError(`No grant ${id}.`);
    res.status(204).end();
  });

  router.get('/admin/grants', async (req, res) => {
    const subject = parseSubject(req.query as Record<string, unknown>);
    const grants = subject.customer !== null ? await deps.grants.forCustomer(subject.customer) : await deps.grants.forUser(subject.user);
    const now = deps.clock.now();
    res.setHeader('Cache-Control', 'no-store').json({ grants: grants.map((g) => toWire(g, now)) });
  });

  return router;
}
