/**
 * Follows the entitlement change stream (`<prefix>:entitlement-changes`) for the live-events route: ONE
 * dedicated Redis connection per process runs `XREAD BLOCK` and fans every entry out to all listeners
 * (the SSE clients of this process). One blocked connection per process, not per client, keeps Redis's
 * connection count flat however many content-service instances subscribe, and a new client costs a map
 * entry, not a socket. Catching up (`Last-Event-ID`) uses the ordinary connection: XINFO + XRANGE.
 */
import type { Redis } from 'ioredis';

export interface ChangeEntry {
  /** The stream entry id (`<ms>-<seq>`): the SSE `id:`. */
  id: string;
  /** The change as the feed published it (JSON text, see entitlement-feed.ts). */
  data: string;
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
}

export type ChangeListener = {
  onEntry(entry: ChangeEntry): void;
  /** The reader lost entries it could not catch up on (trimmed while Redis was away): caches must be dropped. */
  onGap(position: StreamPosition): void;
  /** The process is shutting down. */
  onClose(): void;
};

export interface EntitlementChangeReader {
  readonly streamKey: string;
  /** Adds a listener (starting the reader on first use); returns the function that removes it. */
  listen(listener: ChangeListener): () => void;
  position(): Promise<StreamPosition>;
  /** Entries with ids after `afterId` up to and including `untilId`, oldest first, in pages. */
  readRange(afterId: string, untilId: string, pageSize?: number): Promise<ChangeEntry[]>;
  readonly listenerCount: number;
  close(): Promise<void>;
}

/** Compares two stream ids numerically (`<ms>-<seq>`); a malformed id throws. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
export const isStreamId = (value: string) => STREAM_ID.test(value);

function splitId(id: string): [bigint, bigint] {
  const match = STREAM_ID.exec(id);
  if (!match) throw new Error(`not a stream id: ${id}`);
  return [BigInt(match[1]!), BigInt(match[2]!)];
}

type RawEntry = [id: string, fields: string[]];

function toEntry([id, fields]: RawEntry): ChangeEntry {
  const index = fields.indexOf('change');
  return { id, data: fields[index + 1] ?? 'null' };
}

export function createEntitlementChangeReader(deps: {
  /** Any connection (the API's fail-fast one): position and catch-up reads. */
  redis: Redis;
  /** Makes the dedicated blocking connection; called once, on first listen. */
  openBlockingConnection: () => Redis;
  prefix: string;
  blockMs?: number;
  onError?: (err: Error) => void;
}): EntitlementChangeReader {
  const streamKey = `${deps.prefix}:entitlement-changes`;
  const blockMs = deps.blockMs ?? 5000;
  const listeners = new Set<ChangeListener>();
  let blocking: Redis | null = null;
  let loop: Promise<void> | null = null;
  let closed = false;

  async function position(): Promise<StreamPosition> {
    let info: unknown[];
    try {
      info = (await deps.redis.call('XINFO', 'STREAM', streamKey)) as unknown[];
    } catch (err) {
      if (/no such key/i.test((err as Error).message)) return { lastId: '0-0', firstId: null, maxDeletedId: null, trimmed: false };
      throw err;
    }
    const field = (name: string) => info[info.indexOf(name) + 1];
    const first = field('first-entry') as RawEntry | null | undefined;
    const maxDeleted = info.includes('max-deleted-entry-id') ? String(field('max-deleted-entry-id')) : null;
    const added = info.includes('entries-added') ? Number(field('entries-added')) : null;
    return {
      lastId: String(field('last-generated-id')),
      firstId: first ? first[0] : null,
      maxDeletedId: maxDeleted === '0-0' ? null : maxDeleted,
      trimmed: added === null || added > Number(field('length')),
    };
  }

  async function run(connection: Redis): Promise<void> {
    let cursor: string | null = null;
    while (!closed) {
      try {
        if (cursor === null) {
          cursor = (await position()).lastId;
        }
        const reply = (await connection.xread('COUNT', 500, 'BLOCK', blockMs, 'STREAMS', streamKey, cursor)) as
          | Array<[string, RawEntry[]]>
          | null;
        for (const raw of reply?.[0]?.[1] ?? []) {
          const entry = toEntry(raw);
          cursor = entry.id;
          for (const listener of [...listeners]) listener.onEntry(entry);
        }
      } catch (err) {
        if (closed) return;
        deps.onError?.(err as Error);
        await new Promise((resolve) => setTimeout(resolve, 500));
        // Redis was away: if entries after our cursor were trimmed meanwhile, nobody can replay them.
        if (cursor !== null) {
          try {
            const now = await position();
            if (hasGap(cursor, now)) {
              cursor = now.lastId;
              for (const listener of [...listeners]) listener.onGap(now);
            }
          } catch {
            // still away; the next turn tries again
          }
        }
      }
    }
  }

  return {
    streamKey,
    position,
    get listenerCount() {
      return listeners.size;
    },
    listen(listener) {
      if (closed) {
        listener.onClose();
        return () => undefined;
      }
      listeners.add(listener);
      if (!loop) {
        blocking = deps.openBlockingConnection();
        loop = run(blocking);
      }
      return () => listeners.delete(listener);
    },
    async readRange(afterId, untilId, pageSize = 500) {
      const out: ChangeEntry[] = [];
      let from = `(${afterId}`;
      for (;;) {
        const page = (await deps.redis.xrange(streamKey, from, untilId, 'COUNT', pageSize)) as RawEntry[];
        out.push(...page.map(toEntry));
        if (page.length < pageSize) return out;
        from = `(${page[page.length - 1]![0]}`;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const listener of [...listeners]) listener.onClose();
      listeners.clear();
      // Disconnecting rejects the pending XREAD, which ends the loop.
      blocking?.disconnect();
      await loop?.catch(() => undefined);
    },
  };
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
