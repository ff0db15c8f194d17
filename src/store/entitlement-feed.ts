/**
 * Owns the entitlement feed (layout: key-layout.ts): per customer, under its shard tag,
 * `<prefix>:{s<n>}:ent:<customer id>` (a hash: the last published summary of each feature, the subscriber
 * version they were computed from, and publications recorded but not yet in the stream); under the one feed tag, the stream
 * `<prefix>:{feed}:entitlement-changes` (bounded with MAXLEN ~), its entry counter `…:seq`, a marker per
 * publication appended `…:published:<customer>:<n>`, and the pub/sub channel of the stream's name.
 *
 * A publication is two scripts on two slots. The first, on the customer's slot, compares and records: a
 * summary computed from an older subscriber version never overwrites a newer one, and a change of a
 * feature's summary is recorded (numbered per customer, kept as pending) once however many workers notice it. The second, on the feed's
 * slot, appends a pending publication to the stream unless its marker says it already is; then the first
 * slot forgets it. A process that dies between the two leaves it pending: the next publication of that
 * customer appends it first (its refresh job is retried, so there is one), in order, once. Each entry carries `customer`, `change` (the JSON) and `seq` (its
 * number in the stream's history), so a reader can tell how many entries follow an id without reading them.
 */
import type { Redis } from 'ioredis';
import { STREAM_ENTRY_FIELDS, parseChange, parseStreamEntry, type EntitlementChange, type EntitlementSummary } from '../domain/entitlement-change.js';
import { customerKey, orderedKey } from './key-layout.js';

export type { EntitlementChange };

/** How long a publication's marker is kept: far longer than a pending one waits for its append. */
const MARKER_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** The one place the feed's keys are spelled: the stream, its entry counter, the pub/sub channel, the markers, the per-customer hash. */
export function entitlementStreamKeys(prefix: string) {
  const stream = orderedKey(prefix, 'entitlement-changes');
  return {
    stream,
    seq: `${stream}:seq`,
    channel: stream,
    marker: (customerId: string, publication: number) => `${stream}:published:${customerId}:${publication}`,
    lastPublished: (customerId: string) => customerKey(prefix, 'ent', customerId),
  };
}

// KEYS[1] last-published hash. ARGV: version, customer, user, at (ISO), sweep ('1': every feature recorded
// here but not given is published as the `gone` summary, ARGV[6]), then triples from ARGV[7] (hash field,
// feature, summary JSON). The default feature's summary lives in the field `summary`, as it did before
// features, so a deploy republishes nothing; any other feature's in `summary:<feature>`. The message is
// assembled here so it can carry the previous summary; its shape is EntitlementChange
// (domain/entitlement-change.ts). Pending publications are lines "<n> <message>" in the `pending` field.
// Returns {k, then k pairs (feature, previous summary or '') recorded by this call, then the pending lines}.
const RECORD_SCRIPT = `
local pending = redis.call('HGET', KEYS[1], 'pending') or ''
local recorded = {}
local stored = redis.call('HGET', KEYS[1], 'version')
if not (stored and tonumber(stored) > tonumber(ARGV[1])) then
  redis.call('HSET', KEYS[1], 'version', ARGV[1])
  local given = {}
  local function record(field, feature, summary)
    local previous = redis.call('HGET', KEYS[1], field)
    if previous == summary then return end
    redis.call('HSET', KEYS[1], field, summary)
    local message = '{"customer":' .. cjson.encode(ARGV[2]) ..
      ',"user":' .. (ARGV[3] == '' and 'null' or cjson.encode(ARGV[3])) ..
      ',"feature":' .. cjson.encode(feature) ..
      ',"previous":' .. (previous or 'null') ..
      ',"next":' .. summary ..
      ',"version":' .. ARGV[1] ..
      ',"at":' .. cjson.encode(ARGV[4]) .. '}'
    local n = redis.call('HINCRBY', KEYS[1], 'publications', 1)
    local line = n .. ' ' .. message
    pending = pending == '' and line or (pending .. '\\n' .. line)
    recorded[#recorded + 1] = feature
    recorded[#recorded + 1] = previous or ''
  end
  for i = 7, #ARGV, 3 do
    given[ARGV[i]] = true
    record(ARGV[i], ARGV[i + 1], ARGV[i + 2])
  end
  if ARGV[5] == '1' then
    for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
      local feature = string.match(field, '^summary:(.+)$')
      if feature and not given[field] then record(field, feature, ARGV[6]) end
    end
  end
  if #recorded > 0 then redis.call('HSET', KEYS[1], 'pending', pending) end
end
local out = {#recorded / 2}
for _, v in ipairs(recorded) do out[#out + 1] = v end
for line in string.gmatch(pending, '[^\\n]+') do out[#out + 1] = line end
return out
`;

// KEYS[1] stream, KEYS[2] entry counter, KEYS[3] this publication's marker. ARGV: customer, message,
// stream max length, channel, marker ttl ms. Appends once: 1, or 0 when the marker says it already was.
const APPEND_SCRIPT = `
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[5]) then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', '${STREAM_ENTRY_FIELDS.customer}', ARGV[1], '${STREAM_ENTRY_FIELDS.change}', ARGV[2], '${STREAM_ENTRY_FIELDS.seq}', seq)
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1
`;

// KEYS[1] last-published hash. ARGV: the highest publication number now in the stream. Forgets the
// pending ones up to it (one recorded meanwhile stays).
const FORGET_SCRIPT = `
local upto = tonumber(ARGV[1])
local kept = {}
for line in string.gmatch(redis.call('HGET', KEYS[1], 'pending') or '', '[^\\n]+') do
  local n = tonumber(string.match(line, '^(%d+) '))
  if n > upto then kept[#kept + 1] = line end
end
if #kept == 0 then redis.call('HDEL', KEYS[1], 'pending') else redis.call('HSET', KEYS[1], 'pending', table.concat(kept, '\\n')) end
return #kept
`;

export type PublishResult = { published: true; previous: EntitlementSummary | null } | { published: false };

/** One feature's summary to publish. */
export interface FeatureSummary {
  feature: string;
  summary: EntitlementSummary;
}

/** What changed: per published feature, the summary it had before (null for its first). */
export type PublishedFeatures = Array<{ feature: string; previous: EntitlementSummary | null; next: EntitlementSummary }>;

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
  /**
   * Per feature: publishes each summary that differs from the last one published for (customer, feature);
   * a feature published before and not given now is published as gone (not in the plan any more).
   */
  publishFeatures(input: {
    customerId: string;
    user: string | null;
    version: number;
    summaries: readonly FeatureSummary[];
    at: number;
  }): Promise<PublishedFeatures>;
  /** The latest changes, oldest first (for tests and operators). */
  readChanges(count?: number): Promise<EntitlementChange[]>;
}

interface ScriptedRedis extends Redis {
  subgateRecordEntitlement(hashKey: string, ...args: string[]): Promise<[number, ...string[]]>;
  subgateAppendEntitlement(streamKey: string, seqKey: string, markerKey: string, ...args: string[]): Promise<number>;
  subgateForgetEntitlement(hashKey: string, upto: string): Promise<number>;
}

/** What a feature the reader no longer has is published as. */
const GONE: EntitlementSummary = { entitled: false, status: 'none', reason: 'not_in_plan', card: null };

export function createEntitlementFeed(deps: {
  redis: Redis;
  prefix: string;
  maxLength: number;
  /** DEFAULT_FEATURE: its summary is kept where the feature-less feed kept its one summary. */
  defaultFeature?: string;
}): EntitlementFeed {
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateRecordEntitlement !== 'function') {
    redis.defineCommand('subgateRecordEntitlement', { numberOfKeys: 1, lua: RECORD_SCRIPT });
    redis.defineCommand('subgateAppendEntitlement', { numberOfKeys: 3, lua: APPEND_SCRIPT });
    redis.defineCommand('subgateForgetEntitlement', { numberOfKeys: 1, lua: FORGET_SCRIPT });
  }
  const defaultFeature = deps.defaultFeature ?? 'content';
  const fieldOf = (feature: string) => (feature === defaultFeature ? 'summary' : `summary:${feature}`);
  const keys = entitlementStreamKeys(deps.prefix);
  const streamKey = keys.stream;
  const channel = keys.channel;

  async function publish(
    input: { customerId: string; user: string | null; version: number; summaries: readonly FeatureSummary[]; at: number },
    sweep: boolean,
  ): Promise<PublishedFeatures> {
    const hashKey = keys.lastPublished(input.customerId);
    const [count, ...rest] = await redis.subgateRecordEntitlement(
      hashKey,
      String(input.version),
      input.customerId,
      input.user ?? '',
      new Date(input.at).toISOString(),
      sweep ? '1' : '0',
      JSON.stringify(GONE),
      ...input.summaries.flatMap((s) => [fieldOf(s.feature), s.feature, JSON.stringify(s.summary)]),
    );
    const recorded = rest.slice(0, 2 * Number(count));
    const pending = rest.slice(2 * Number(count));
    // Oldest first: what an earlier call recorded and could not append goes before this one's.
    let upto = 0;
    for (const line of pending) {
      const space = line.indexOf(' ');
      const publication = Number(line.slice(0, space));
      await redis.subgateAppendEntitlement(
        streamKey,
        keys.seq,
        keys.marker(input.customerId, publication),
        input.customerId,
        line.slice(space + 1),
        String(deps.maxLength),
        channel,
        String(MARKER_TTL_MS),
      );
      upto = publication;
    }
    if (upto > 0) await redis.subgateForgetEntitlement(hashKey, String(upto));
    const nextOf = new Map(input.summaries.map((s) => [s.feature, s.summary]));
    const out: PublishedFeatures = [];
    for (let i = 0; i + 1 < recorded.length; i += 2) {
      const feature = recorded[i]!;
      const previous = recorded[i + 1]!;
      out.push({ feature, previous: previous === '' ? null : (JSON.parse(previous) as EntitlementSummary), next: nextOf.get(feature) ?? GONE });
    }
    return out;
  }

  return {
    streamKey,
    channel,
    async publishIfChanged(input) {
      const [change] = await publish({ ...input, summaries: [{ feature: defaultFeature, summary: input.summary }] }, false);
      return change ? { published: true, previous: change.previous } : { published: false };
    },
    publishFeatures: (input) => publish(input, true),
    async readChanges(count = 1000) {
      const entries = await redis.xrevrange(streamKey, '+', '-', 'COUNT', count);
      return entries
        .reverse()
        .map(([id, fields]) => parseChange(parseStreamEntry(id, fields).data))
        .filter((change): change is EntitlementChange => change !== null);
    },
  };
}
