/**
 * Owns `<prefix>:return:<customer id>` and `<prefix>:portal:<customer id>`: per-customer budgets for the
 * Stripe calls an update-card link makes outside the workers' rate limit. Anyone holding a link can hit it
 * in a loop; the budget, not the number of hits, decides how many Stripe calls that costs.
 *
 * Both are one sliding-window claim, taken in one Lua script so concurrent hits cannot race past it:
 * - the return page re-reads the customer from Stripe at most once per window (10 s);
 * - the update-card page opens at most `limit` Billing Portal sessions per `windowMs`, and keeps the last
 *   session's URL for `reuseMs` (Stripe expires a session nobody opened after about five minutes), so the
 *   link reused meanwhile goes to that same session. While one hit is creating a session, the claim tells
 *   the others to wait for it (a hold that lapses on its own if its holder dies).
 * The session URL lets its bearer into the customer's portal: it is kept here and never logged. Instants
 * are the injected clock's; the keys' Redis TTLs only clean up after them.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Clock } from '../domain/projection.js';

// KEYS[1] the customer's record (hash: recent = comma-separated claim instants, url, url_until, holder,
// hold_until). ARGV: now, limit, window ms, hold ms (0: none), holder, cleanup ttl ms.
const CLAIM_SCRIPT = `
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'url', 'url_until', 'holder', 'hold_until', 'recent')
if f[1] and tonumber(f[2] or '0') > now then return {'reuse', f[1]} end
if f[3] and tonumber(f[4] or '0') > now then return {'wait', ''} end
local window = tonumber(ARGV[3])
local kept, oldest = {}, nil
for t in string.gmatch(f[5] or '', '[^,]+') do
  local at = tonumber(t)
  if at and at > now - window then
    kept[#kept + 1] = t
    if oldest == nil or at < oldest then oldest = at end
  end
end
if #kept >= tonumber(ARGV[2]) then return {'limited', tostring(oldest + window - now)} end
kept[#kept + 1] = ARGV[1]
redis.call('HSET', KEYS[1], 'recent', table.concat(kept, ','))
if tonumber(ARGV[4]) > 0 then redis.call('HSET', KEYS[1], 'holder', ARGV[5], 'hold_until', tostring(now + tonumber(ARGV[4]))) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {'granted', ''}
`;

// KEYS[1] the customer's record. ARGV: holder, url ('' keeps none), url_until, cleanup ttl ms.
const REMEMBER_SCRIPT = `
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'url', ARGV[2], 'url_until', ARGV[3]) end
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('HDEL', KEYS[1], 'holder', 'hold_until') end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

// KEYS[1] the customer's record. ARGV: holder. Lifts only the caller's own hold.
const RELEASE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then return redis.call('HDEL', KEYS[1], 'holder', 'hold_until') end
return 0
`;

interface ScriptedRedis extends Redis {
  subgateClaimLinkBudget(key: string, now: string, limit: string, windowMs: string, holdMs: string, holder: string, ttlMs: string): Promise<[string, string]>;
  subgateRememberPortalSession(key: string, holder: string, url: string, urlUntil: string, ttlMs: string): Promise<number>;
  subgateReleasePortalHold(key: string, holder: string): Promise<number>;
}

function scripted(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  if (typeof r.subgateClaimLinkBudget !== 'function') {
    r.defineCommand('subgateClaimLinkBudget', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    r.defineCommand('subgateRememberPortalSession', { numberOfKeys: 1, lua: REMEMBER_SCRIPT });
    r.defineCommand('subgateReleasePortalHold', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  }
  return r;
}

export interface ReturnThrottle {
  /** true when this call may re-read the customer now; false when one did within the window. */
  tryAcquire(customerId: string): Promise<boolean>;
}

export function createReturnThrottle(deps: { redis: Redis; prefix: string; clock: Clock; windowMs?: number }): ReturnThrottle {
  const redis = scripted(deps.redis);
  const windowMs = deps.windowMs ?? 10_000;
  return {
    async tryAcquire(customerId) {
      const now = String(deps.clock.now());
      const [kind] = await redis.subgateClaimLinkBudget(`${deps.prefix}:return:${customerId}`, now, '1', String(windowMs), '0', '', String(windowMs));
      return kind === 'granted';
    },
  };
}

export type PortalClaim =
  /** A session opened within `reuseMs`: send the reader there. */
  | { kind: 'reuse'; url: string }
  /** Within budget: create a session, then remember() it (or release() on failure). */
  | { kind: 'create'; holder: string }
  /** Another hit is creating one right now: ask again shortly. */
  | { kind: 'wait' }
  | { kind: 'limited'; retryAfterMs: number };

export interface PortalSessionStore {
  claim(customerId: string): Promise<PortalClaim>;
  remember(customerId: string, holder: string, url: string): Promise<void>;
  release(customerId: string, holder: string): Promise<void>;
}

export interface PortalSessionBudget {
  /** Sessions per customer per window. */
  limit: number;
  windowMs: number;
  /** How long a created session's URL is handed out again (0: never). */
  reuseMs: number;
  /** How long a creating hit holds the others off before its hold lapses (it died, Stripe hung). */
  holdMs?: number;
}

export function createPortalSessionStore(deps: { redis: Redis; prefix: string; clock: Clock } & PortalSessionBudget): PortalSessionStore {
  const redis = scripted(deps.redis);
  const holdMs = deps.holdMs ?? 15_000;
  const ttlMs = String(Math.max(deps.windowMs, deps.reuseMs) + holdMs);
  const keyOf = (customerId: string) => `${deps.prefix}:portal:${customerId}`;
  return {
    async claim(customerId) {
      const holder = randomUUID();
      const now = String(deps.clock.now());
      const [kind, detail] = await redis.subgateClaimLinkBudget(keyOf(customerId), now, String(deps.limit), String(deps.windowMs), String(holdMs), holder, ttlMs);
      if (kind === 'reuse') return { kind, url: detail };
      if (kind === 'wait') return { kind };
      if (kind === 'limited') return { kind, retryAfterMs: Number(detail) };
      return { kind: 'create', holder };
    },
    async remember(customerId, holder, url) {
      const keep = deps.reuseMs > 0 ? url : '';
      await redis.subgateRememberPortalSession(keyOf(customerId), holder, keep, String(deps.clock.now() + deps.reuseMs), ttlMs);
    },
    async release(customerId, holder) {
      await redis.subgateReleasePortalHold(keyOf(customerId), holder);
    },
  };
}
