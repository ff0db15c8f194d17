/**
 * Owns the entitlement feed: `<prefix>:ent:<customer id>` (a hash: the last published summary of each
 * feature and the subscriber version they were computed from), the stream `<prefix>:entitlement-changes` (bounded with
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

// KEYS[1] last-published hash, KEYS[2] stream, KEYS[3] entry counter. ARGV: version, customer, user, at
// (ISO), stream max length, channel, sweep ('1': every feature recorded here but not given is published as
// the `gone` summary, ARGV[8]), then triples (hash field, feature, summary JSON). The default feature's
// summary lives in the field `summary`, as it did before features, so a deploy republishes nothing; any
// other feature's in `summary:<feature>`. The message is assembled here so it can carry the previous
// summary; its shape is EntitlementChange (domain/entitlement-change.ts).
// Returns a flat list of (feature, previous summary or '') per published change; empty when none / stale.
const PUBLISH_SCRIPT = `
local stored = redis.call('HGET', KEYS[1], 'version')
if stored and tonumber(stored) > tonumber(ARGV[1]) then return {} end
redis.call('HSET', KEYS[1], 'version', ARGV[1])
local published = {}
local given = {}
local function publish(field, feature, summary)
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
  local seq = redis.call('INCR', KEYS[3])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', '${STREAM_ENTRY_FIELDS.customer}', ARGV[2], '${STREAM_ENTRY_FIELDS.change}', message, '${STREAM_ENTRY_FIELDS.seq}', seq)
  redis.call('PUBLISH', ARGV[6], message)
  published[#published + 1] = feature
  published[#published + 1] = previous or ''
end
for i = 10, #ARGV, 3 do
  given[ARGV[i]] = true
  publish(ARGV[i], ARGV[i + 1], ARGV[i + 2])
end
if ARGV[7] == '1' then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    local feature = string.match(field, '^summary:(.+)$')
    if feature and not given[field] then publish(field, feature, ARGV[8]) end
  end
end
return published
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
  subgatePublishFeatures(hashKey: string, streamKey: string, seqKey: string, ...args: string[]): Promise<string[]>;
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
  if (typeof redis.subgatePublishFeatures !== 'function') {
    redis.defineCommand('subgatePublishFeatures', { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
  }
  const defaultFeature = deps.defaultFeature ?? 'content';
  const fieldOf = (feature: string) => (feature === defaultFeature ? 'summary' : `summary:${feature}`);
  const keys = entitlementStreamKeys(deps.prefix);
  const streamKey = keys.stream;
  const channel = keys.channel;
  const hashKey = (customerId: string) => `${deps.prefix}:ent:${customerId}`;

  async function publish(
    input: { customerId: string; user: string | null; version: number; summaries: readonly FeatureSummary[]; at: number },
    sweep: boolean,
  ): Promise<PublishedFeatures> {
    const nextOf = new Map(input.summaries.map((s) => [s.feature, s.summary]));
    const flat = await redis.subgatePublishFeatures(
      hashKey(input.customerId),
      streamKey,
      keys.seq,
      String(input.version),
      input.customerId,
      input.user ?? '',
      new Date(input.at).toISOString(),
      String(deps.maxLength),
      channel,
      sweep ? '1' : '0',
      JSON.stringify(GONE),
      '',
      ...input.summaries.flatMap((s) => [fieldOf(s.feature), s.feature, JSON.stringify(s.summary)]),
    );
    const out: PublishedFeatures = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const feature = flat[i]!;
      const previous = flat[i + 1]!;
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
