/**
 * Owns the admin browser-session key family: `<prefix>:admin:session:<sha256 of the session id>` (the
 * session's CSRF token and expiry, with a Redis TTL) and `<prefix>:admin:login-failures:<address>` (failed
 * logins of one client address in the current window). Sessions are kept by the digest of their id, so
 * whoever can read Redis cannot lift a live session from it; logout deletes the key, so a copied cookie
 * stops working at once. Expiry is judged on the injected clock (the TTL only cleans up).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Clock } from '../domain/projection.js';

export interface AdminSession {
  /** The opaque value of the cookie (never stored as such). */
  id: string;
  /** Every state-changing form of this session carries it. */
  csrf: string;
  /** ms */
  expiresAt: number;
}

export interface AdminSessionStore {
  create(): Promise<AdminSession>;
  /** The live session of this cookie value, or null (unknown, revoked, expired, malformed). */
  read(id: string): Promise<AdminSession | null>;
  revoke(id: string): Promise<void>;
  /** Failed logins of this address in the current window (without counting one). */
  failures(address: string): Promise<number>;
  /** Counts one failed login of this address; returns the window's count with it. */
  recordFailure(address: string): Promise<number>;
}

/** 32 random bytes, base64url: what a cookie value and a CSRF token are made of. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const newSecret = () => randomBytes(32).toString('base64url');
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

/** The one place these keys are spelled. */
export function adminSessionKeys(prefix: string) {
  return {
    session: (id: string) => `${prefix}:admin:session:${digest(id)}`,
    // Addresses are digested too: an IPv6 address carries ':' and would read as more key segments.
    loginFailures: (address: string) => `${prefix}:admin:login-failures:${digest(address).slice(0, 32)}`,
  };
}

export function createAdminSessionStore(deps: {
  redis: Redis;
  prefix: string;
  clock: Clock;
  ttlMs: number;
  loginWindowMs: number;
}): AdminSessionStore {
  const keys = adminSessionKeys(deps.prefix);
  return {
    async create() {
      const session: AdminSession = { id: newSecret(), csrf: newSecret(), expiresAt: deps.clock.now() + deps.ttlMs };
      await deps.redis.set(keys.session(session.id), JSON.stringify({ csrf: session.csrf, expires_at: session.expiresAt }), 'PX', deps.ttlMs);
      return session;
    },
    async read(id) {
      if (!SESSION_ID.test(id)) return null;
      const raw = await deps.redis.get(keys.session(id));
      if (raw === null) return null;
      let stored: { csrf?: unknown; expires_at?: unknown };
      try {
        stored = JSON.parse(raw) as typeof stored;
      } catch {
        return null;
      }
      if (typeof stored.csrf !== 'string' || typeof stored.expires_at !== 'number') return null;
      if (deps.clock.now() >= stored.expires_at) return null;
      return { id, csrf: stored.csrf, expiresAt: stored.expires_at };
    },
    async revoke(id) {
      if (SESSION_ID.test(id)) await deps.redis.del(keys.session(id));
    },
    async failures(address) {
      return Number((await deps.redis.get(keys.loginFailures(address))) ?? 0);
    },
    async recordFailure(address) {
      const key = keys.loginFailures(address);
      // The window starts at the first failure and is not extended by later ones (NX).
      const replies = await deps.redis.multi().incr(key).pexpire(key, deps.loginWindowMs, 'NX').exec();
      const [err, count] = replies?.[0] ?? [null, 0];
      if (err) throw err;
      return Number(count);
    },
  };
}
