/**
 * Owns the entitlement feed: `<prefix>:ent:<customer id>` (a hash: the last published summary and the
 * subscriber version it was computed from), the stream `<prefix>:entitlement-changes` (bounded with
 * MAXLEN ~), its entry counter `<prefix>:entitlement-changes:seq` and the pub/sub channel of the stream's
 * name. One Lua script compares, records and publishes, so a change is published exactly once however
 * many workers notice it, and a summary computed from an older subscriber version never overwrites a
 * newer one. Each entry carries `customer`, `change` (the JSON) and `seq` (its number in the stream's
 * history), so a reader can tell how many entries follow an id without reading them.
 */
import type { Redis } from 'ioredis';
import { STREAM_ENTRY_FIELDS, parseChange, parseStreamEntry, type EntitlementChange, type EntitlementSummary } from '../domain/entitlement-change.js';

export type { EntitlementChange };

/** The one place the feed's keys are spelled: the stream, its entry counter, the pub/sub channel. */
export function entitlementStreamKeys(prefix: string) {
  const stream = `${prefix}:entitlement-changes`;
  return { stream, seq: `${stream}:seq`, channel: stream };
}

// KEYS[1] last-published hash, KEYS[2] stream, KEYS[3] entry counter. ARGV: version, summary JSON, customer, user, at (ISO),
// stream max length, channel. The message is assembled here so it can carry the previous summary; its
// shape is EntitlementChange (domain/entitlement-change.ts).
// Returns the previous summary ('' for none) when published, or false when nothing changed / stale.
const PUBLISH_SCRIPT = `
local stored = redis.call('HGET', KEYS[1], 'version')
if stored and tonumber(stored) > tonumber(ARGV[1]) then return false end
local previous = redis.call('HGET', KEYS[1], 'summary')
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'summary', ARGV[2])
if previous == ARGV[2] then return false end
local message = '{"customer":' .. cjson.encode(ARGV[3]) ..
  ',"user":' .. (ARGV[4] == '' and 'null' or cjson.encode(ARGV[4])) ..
  ',"previous":' .. (previous or 'null') ..
  ',"next":' .. ARGV[2] ..
  ',"version":' .. ARGV[1] ..
  ',"at":' .. cjson.encode(ARGV[5]) .. '}'
local seq = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', '${STREAM_ENTRY_FIELDS.customer}', ARGV[3], '${STREAM_ENTRY_FIELDS.change}', message, '${STREAM_ENTRY_FIELDS.seq}', seq)
redis.call('PUBLISH', ARGV[7], message)
return previous or ''
`;

export type PublishResult = { published: true; previous: EntitlementSummary | null } | { published: false };

export interface EntitlementFeed {
  /** The stream and channel consumers follow. */
  readonly streamKey: string;
  readonly channel: string;
  publishIfChanged(input: {
    customerId: string;
    user: string | null;
    version: number;
    summary: EntitlementSummary;
    at: number;
  }): Promise<PublishResult>;
  /** The latest changes, oldest first (for tests and operators). */
  readChanges(count?: number): Promise<EntitlementChange[]>;
}

interface ScriptedRedis extends Redis {
  subgatePublishEntitlement(hashKey: string, streamKey: string, seqKey: string, ...args: string[]): Promise<string | null>;
}

export function createEntitlementFeed(deps: { redis: Redis; prefix: string; maxLength: number }): EntitlementFeed {
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgatePublishEntitlement !== 'function') {
    redis.defineCommand('subgatePublishEntitlement', { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
  }
  const keys = entitlementStreamKeys(deps.prefix);
  const streamKey = keys.stream;
  const channel = keys.channel;
  const hashKey = (customerId: string) => `${deps.prefix}:ent:${customerId}`;

  return {
    streamKey,
    channel,
    async publishIfChanged(input) {
      const previous = await redis.subgatePublishEntitlement(
        hashKey(input.customerId),
        streamKey,
        keys.seq,
        String(input.version),
        JSON.stringify(input.summary),
        input.customerId,
        input.user ?? '',
        new Date(input.at).toISOString(),
        String(deps.maxLength),
        channel,
      );
      if (previous === null) return { published: false };
      return { published: true, previous: previous === '' ? null : (JSON.parse(previous) as EntitlementSummary) };
    },
    async readChanges(count = 1000) {
      const entries = await redis.xrevrange(streamKey, '+', '-', 'COUNT', count);
      return entries
        .reverse()
        .map(([id, fields]) => parseChange(parseStreamEntry(id, fields).data))
        .filter((change): change is EntitlementChange => change !== null);
    },
  };
}
