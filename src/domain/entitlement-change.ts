/**
 * The entitlement change, whole: what counts as one (the answer's entitled/status/reason and the card that
 * decides it), its shape on the change stream and on the wire (the feed's `data:`, which @subgate/client
 * reads; src/http/wire-contract.ts holds its types to these), how a stream entry is parsed, and the
 * arithmetic of stream ids that the feed's resume rests on. Pure: the store decides atomically whether a summary differs from the last one
 * published (store/entitlement-feed.ts writes entries, store/entitlement-change-reader.ts reads them).
 */
import type { Entitlement, EntitlementStatus } from './projection.js';

export interface EntitlementSummary {
  entitled: boolean;
  status: EntitlementStatus;
  reason: Entitlement['reason'];
  /** The id of the card paying the deciding subscription, or null. */
  card: string | null;
}

export function summarizeEntitlement(entitlement: Entitlement): EntitlementSummary {
  return {
    entitled: entitlement.entitled,
    status: entitlement.status,
    reason: entitlement.reason,
    card: entitlement.card?.id ?? null,
  };
}

/** Statuses a reader can lose access to by a card problem, and get it back from by fixing the card. */
const CARD_PROBLEM: ReadonlySet<EntitlementStatus> = new Set(['card_expired', 'payment_failed']);

/** A reader who had lost access to a card problem is entitled again: worth an "access restored" notice. */
export function isAccessRestored(previous: EntitlementSummary | null, next: EntitlementSummary): boolean {
  return previous !== null && !previous.entitled && CARD_PROBLEM.has(previous.status) && next.entitled;
}

/** One change as the stream carries it and the feed sends it (`event: change`, `data:` this JSON). */
export interface EntitlementChange {
  customer: string;
  user: string | null;
  /** Which feature's answer changed; without feature configuration always DEFAULT_FEATURE (entries written before features carry none). */
  feature: string;
  previous: EntitlementSummary | null;
  next: EntitlementSummary;
  /** The subscriber version the summary was computed from. */
  version: number;
  /** ISO 8601 */
  at: string;
}

/** The fields of a stream entry: the customer, the change (its JSON text) and the entry's number. */
export const STREAM_ENTRY_FIELDS = { customer: 'customer', change: 'change', seq: 'seq' } as const;

export interface ChangeEntry {
  /** The stream entry id (`<ms>-<seq>`): the SSE `id:`. */
  id: string;
  /** The change as the feed published it (JSON text of an EntitlementChange). */
  data: string;
  /** The entry's number in the stream's history (the feed counts its entries); null when it has none. */
  seq: number | null;
}

/** A stream entry as Redis returns it (`[id, [field, value, …]]`), as a ChangeEntry. */
export function parseStreamEntry(id: string, fields: readonly string[]): ChangeEntry {
  let data = 'null';
  let seq: number | null = null;
  for (let i = 0; i < fields.length - 1; i += 2) {
    if (fields[i] === STREAM_ENTRY_FIELDS.change) data = fields[i + 1]!;
    else if (fields[i] === STREAM_ENTRY_FIELDS.seq) {
      const n = Number(fields[i + 1]);
      seq = Number.isSafeInteger(n) && n > 0 ? n : null;
    }
  }
  return { id, data, seq };
}

/** The change an entry carries, or null when its text is not one. */
export function parseChange(data: string): EntitlementChange | null {
  try {
    const value = JSON.parse(data) as EntitlementChange | null;
    return value !== null && typeof value === 'object' && typeof value.customer === 'string' ? value : null;
  } catch {
    return null;
  }
}

export interface StreamPosition {
  /** The last id ever added to the stream ('0-0' when there is none). */
  lastId: string;
  /** The id of the oldest entry still kept, or null for an empty/missing stream. */
  firstId: string | null;
  /** The highest id deleted (Redis 7+), or null when none or unknown. */
  maxDeletedId: string | null;
  /** Some entry was ever removed (entries-added > length; true when Redis does not say). */
  trimmed: boolean;
  /** The newest entry's `seq`, or null when there is none or it carries none. */
  lastSeq: number | null;
}

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;

export const isStreamId = (value: string) => STREAM_ID.test(value);

function splitId(id: string): [bigint, bigint] {
  const match = STREAM_ID.exec(id);
  if (!match) throw new Error(`not a stream id: ${id}`);
  return [BigInt(match[1]!), BigInt(match[2]!)];
}

/** Compares two stream ids numerically (`<ms>-<seq>`); a malformed id throws. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

/**
 * True when a reader that has seen everything up to `afterId` can no longer be given what followed:
 * entries after it were trimmed away, or the id is ahead of this stream (Redis was replaced or flushed).
 * Conservative: when unsure, it says "gap", which costs the client a cache flush, never a missed change.
 */
export function hasGap(afterId: string, at: StreamPosition): boolean {
  if (compareStreamIds(afterId, at.lastId) > 0) return true;
  if (compareStreamIds(afterId, at.lastId) === 0) return false;
  if (!at.trimmed) return false;
  if (at.maxDeletedId !== null && compareStreamIds(at.maxDeletedId, afterId) > 0) return true;
  // Something was trimmed: entries after afterId are all still there only if the oldest kept one follows it.
  return at.firstId === null || compareStreamIds(at.firstId, afterId) > 0;
}
