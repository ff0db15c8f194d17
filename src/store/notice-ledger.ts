/**
 * Owns `<prefix>:notice:<notice key>` (one record per notice: claimed, sent, rejected or skipped) and
 * `<prefix>:stats:notices` (counters by kind and outcome). A sender claims the key before it sends and
 * records the outcome after, so duplicate events, retries and racing workers make one e-mail. A claim is a
 * lease: if its holder dies mid-send the lease runs out and a retry may claim again (the one window
 * where a second copy is possible; the Message-ID is derived from the key so mail systems can fold it).
 */
import type { Redis } from 'ioredis';

/** How long a final record is kept: longer than any card's notice cycle. */
const RECORD_TTL_MS = 400 * 24 * 60 * 60 * 1000;

export type NoticeState = 'sending' | 'sent' | 'rejected' | 'skipped';

export interface NoticeRecord {
  state: NoticeState;
  /** ms */
  at: number;
  owner?: string;
  /** For sent: the Message-ID; for rejected/skipped: the reason. No addresses, no content. */
  detail?: string;
}

export type ClaimResult = { claimed: true } | { claimed: false; record: NoticeRecord };

export interface NoticeLedger {
  claim(key: string, owner: string, at: number, leaseMs: number): Promise<ClaimResult>;
  /** Records a final outcome, if `owner` still holds the claim (or no one does). */
  finish(key: string, owner: string, record: Omit<NoticeRecord, 'owner'>): Promise<boolean>;
  /** Gives a claim back after a temporary failure, so the retry can claim it. */
  release(key: string, owner: string): Promise<void>;
  get(key: string): Promise<NoticeRecord | null>;
  count(kind: string, outcome: string): Promise<void>;
  counts(): Promise<Record<string, number>>;
}

// KEYS[1] record. ARGV: owner, final record JSON, ttl ms.
const FINISH_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if raw then
  local ok, current = pcall(cjson.decode, raw)
  if ok and current.state == 'sending' and current.owner ~= ARGV[1] then return 0 end
  if ok and current.state ~= 'sending' then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

// KEYS[1] record. ARGV: owner. Deletes only the caller's own live claim.
const RELEASE_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, current = pcall(cjson.decode, raw)
if ok and current.state == 'sending' and current.owner == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface ScriptedRedis extends Redis {
  subgateFinishNotice(key: string, owner: string, record: string, ttl: string): Promise<number>;
  subgateReleaseNotice(key: string, owner: string): Promise<number>;
}

export function createNoticeLedger(deps: { redis: Redis; prefix: string }): NoticeLedger {
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateFinishNotice !== 'function') {
    redis.defineCommand('subgateFinishNotice', { numberOfKeys: 1, lua: FINISH_SCRIPT });
    redis.defineCommand('subgateReleaseNotice', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  }
  const keyOf = (key: string) => `${deps.prefix}:notice:${key}`;
  const statsKey = `${deps.prefix}:stats:notices`;

  const get = async (key: string): Promise<NoticeRecord | null> => {
    const raw = await redis.get(keyOf(key));
    return raw === null ? null : (JSON.parse(raw) as NoticeRecord);
  };

  return {
    async claim(key, owner, at, leaseMs) {
      const record: NoticeRecord = { state: 'sending', at, owner };
      const reply = await redis.set(keyOf(key), JSON.stringify(record), 'PX', leaseMs, 'NX');
      if (reply === 'OK') return { claimed: true };
      // Claimed meanwhile or already final; if it vanished in between (a lease ran out), say busy: the retry decides.
      return { claimed: false, record: (await get(key)) ?? { state: 'sending', at } };
    },
    async finish(key, owner, record) {
      return (await redis.subgateFinishNotice(keyOf(key), owner, JSON.stringify(record), String(RECORD_TTL_MS))) === 1;
    },
    async release(key, owner) {
      await redis.subgateReleaseNotice(keyOf(key), owner);
    },
    get,
    async count(kind, outcome) {
      await redis.hincrby(statsKey, `${kind}|${outcome}`, 1);
    },
    async counts() {
      const raw = await redis.hgetall(statsKey);
      return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
    },
  };
}
