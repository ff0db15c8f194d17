/**
 * Owns the timeline key family: `<prefix>:timeline:<customer id>`, one Redis stream per customer holding
 * what happened to that reader, in the order subgate saw it (events, refreshes, entitlement changes,
 * expiry flags, notices, link opens, portal sessions, returns, grants). Bounded both ways in the same
 * script that appends: at most `maxEntries`, none older than `maxAgeMs` (entry ids carry the injected
 * clock's time), and the whole key expires `maxAgeMs` after its last entry. One key per customer, so a
 * Redis Cluster spreads them and each append touches one slot.
 *
 * What goes in is for an operator's eyes: never an e-mail address unmasked, a link token or a card number.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../domain/projection.js';

export type TimelineKind =
  | 'event'
  | 'refresh'
  | 'entitlement'
  | 'card_flag'
  | 'card_honoured'
  | 'card_expiry'
  | 'notice'
  | 'link_opened'
  | 'portal_session'
  | 'returned'
  | 'grant'
  | 'operator';

/** Short facts shown beside the text: strings, numbers, booleans, nothing nested. */
export type TimelineFields = Readonly<Record<string, string | number | boolean | null>>;

export interface TimelineEntryInput {
  kind: TimelineKind;
  /** One line in words ("Refreshed from Stripe: status active -> past_due"). */
  text: string;
  fields?: TimelineFields;
  /** ms; defaults to the clock's now. */
  at?: number;
}

export interface TimelineEntry {
  /** The stream entry id. */
  id: string;
  kind: TimelineKind;
  text: string;
  fields: TimelineFields;
  at: number;
}

export interface CustomerTimeline {
  record(customerId: string, entry: TimelineEntryInput): Promise<void>;
  /** The newest `limit` entries, newest first. */
  read(customerId: string, limit?: number): Promise<TimelineEntry[]>;
}

/**
 * Appends with an id at the entry's own time (never below the newest id, so a clock that steps back
 * still appends), then trims by count and by age, then sets the key's expiry.
 * KEYS[1] stream; ARGV: at, maxEntries, oldest ms kept, ttl ms, kind, data.
 */
const APPEND_SCRIPT = `
local ms = tonumber(ARGV[1])
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if newest[1] then
  local newestMs = tonumber(string.match(newest[1][1], '^(%d+)'))
  if newestMs > ms then ms = newestMs end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], tostring(ms) .. '-*', 'kind', ARGV[5], 'at', ARGV[1], 'data', ARGV[6])
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return id
`;

interface ScriptedRedis extends Redis {
  subgateTimelineAppend(key: string, ...args: string[]): Promise<string>;
}

/** The one place the timeline keys are spelled. */
export function timelineKeys(prefix: string) {
  return { customer: (customerId: string) => `${prefix}:timeline:${customerId}` };
}

const MAX_TEXT = 500;
const MAX_FIELDS = 20;

export function createCustomerTimeline(deps: { redis: Redis; prefix: string; clock: Clock; maxEntries: number; maxAgeMs: number }): CustomerTimeline {
  const keys = timelineKeys(deps.prefix);
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateTimelineAppend !== 'function') redis.defineCommand('subgateTimelineAppend', { numberOfKeys: 1, lua: APPEND_SCRIPT });
  return {
    async record(customerId, entry) {
      const at = Math.floor(entry.at ?? deps.clock.now());
      const fields = Object.fromEntries(Object.entries(entry.fields ?? {}).slice(0, MAX_FIELDS));
      const data = JSON.stringify({ text: entry.text.slice(0, MAX_TEXT), fields });
      await redis.subgateTimelineAppend(
        keys.customer(customerId),
        String(at),
        String(deps.maxEntries),
        String(Math.max(0, deps.clock.now() - deps.maxAgeMs)),
        String(deps.maxAgeMs),
        entry.kind,
        data,
      );
    },
    async read(customerId, limit = deps.maxEntries) {
      const raw = (await redis.xrevrange(keys.customer(customerId), '+', '-', 'COUNT', Math.max(1, limit))) as Array<[string, string[]]>;
      return raw.map(([id, flat]) => {
        const record: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]!] = flat[i + 1]!;
        let parsed: { text?: unknown; fields?: unknown } = {};
        try {
          parsed = JSON.parse(record.data ?? '{}') as typeof parsed;
        } catch {
          // An entry written by something else: shown as its kind alone.
        }
        return {
          id,
          kind: (record.kind ?? 'operator') as TimelineKind,
          text: typeof parsed.text === 'string' ? parsed.text : '',
          fields: (typeof parsed.fields === 'object' && parsed.fields !== null ? parsed.fields : {}) as TimelineFields,
          at: Number(record.at ?? id.split('-')[0]),
        };
      });
    },
  };
}
