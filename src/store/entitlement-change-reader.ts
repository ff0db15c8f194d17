/**
 * Follows the entitlement change stream (its keys and entries: entitlement-feed.ts and
 * domain/entitlement-change.ts) for the live-events route: ONE
 * dedicated Redis connection per process runs `XREAD BLOCK` and fans every entry out to all listeners
 * (the SSE clients of this process). One blocked connection per process, not per client, keeps Redis's
 * connection count flat however many content-service instances subscribe, and a new client costs a map
 * entry, not a socket. Catching up (`Last-Event-ID`) reads XINFO, then XRANGE one bounded page at a time
 * on a connection of its own when one is given (so a catch-up reply never queues ahead of an entitlement
 * check on the shared one, which has a short command timeout), and at most `maxConcurrentReads` pages are read at once in the whole process,
 * however many clients catch up: Redis and this process each hold a few pages, never whole backlogs.
 */
import type { Redis } from 'ioredis';
import { compareStreamIds, hasGap, parseStreamEntry, type ChangeEntry, type StreamPosition } from '../domain/entitlement-change.js';
import { entitlementStreamKeys } from './entitlement-feed.js';

export type { ChangeEntry, StreamPosition };

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
  /**
   * How many entries follow `afterId` up to the tip of `at`, from the `seq` of the first one (one entry
   * read); null when that cannot be told (entries without `seq`). Null too when aborted.
   */
  countAfter(afterId: string, at: StreamPosition, signal?: AbortSignal): Promise<number | null>;
  /**
   * Entries with ids after `afterId` up to and including `untilId`, oldest first, one page of at most
   * `pageSize` per step. The next page is read only when the consumer asks for it, and none once
   * `signal` is aborted, so a consumer that writes each page before asking for the next never holds more
   * than one.
   */
  pages(afterId: string, untilId: string, options?: { pageSize?: number; signal?: AbortSignal }): AsyncGenerator<ChangeEntry[], void, undefined>;
  readonly listenerCount: number;
  close(): Promise<void>;
}

type RawEntry = [id: string, fields: string[]];

const toEntry = ([id, fields]: RawEntry): ChangeEntry => parseStreamEntry(id, fields);

/** A FIFO of permits: at most `max` holders at once; a waiter whose signal aborts leaves the queue. */
function createPermits(max: number) {
  let free = max;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return {
    /** Resolves with the release function, or null when `signal` aborted first. */
    acquire(signal?: AbortSignal): Promise<(() => void) | null> {
      if (signal?.aborted) return Promise.resolve(null);
      if (free > 0) {
        free--;
        return Promise.resolve(release);
      }
      return new Promise((resolve) => {
        const grant = () => {
          signal?.removeEventListener('abort', abort);
          resolve(release);
        };
        const abort = () => {
          const index = waiting.indexOf(grant);
          if (index !== -1) waiting.splice(index, 1);
          resolve(null);
        };
        waiting.push(grant);
        signal?.addEventListener('abort', abort, { once: true });
      });
    },
  };
}

export function createEntitlementChangeReader(deps: {
  /** Any connection (the API's fail-fast one): position, and catch-up reads unless given their own. */
  redis: Redis;
  /** Makes the dedicated blocking connection; called once, on first listen. */
  openBlockingConnection: () => Redis;
  /** A connection of their own for catch-up reads (default: `redis`). */
  catchUpRedis?: Redis;
  prefix: string;
  blockMs?: number;
  /** Catch-up pages read at once in this process (default 4). */
  maxConcurrentReads?: number;
  onError?: (err: Error) => void;
}): EntitlementChangeReader {
  const streamKey = entitlementStreamKeys(deps.prefix).stream;
  const blockMs = deps.blockMs ?? 5000;
  const listeners = new Set<ChangeListener>();
  const permits = createPermits(deps.maxConcurrentReads ?? 4);
  const catchUp = deps.catchUpRedis ?? deps.redis;
  let blocking: Redis | null = null;
  let loop: Promise<void> | null = null;
  let closed = false;

  /** Runs one catch-up read under a permit; null when `signal` aborted before it could start. */
  async function catchUpRead<T>(signal: AbortSignal | undefined, read: (redis: Redis) => Promise<T>): Promise<T | null> {
    const release = await permits.acquire(signal);
    if (!release) return null;
    try {
      if (signal?.aborted) return null;
      return await read(catchUp);
    } finally {
      release();
    }
  }

  async function position(): Promise<StreamPosition> {
    let info: unknown[];
    try {
      info = (await deps.redis.call('XINFO', 'STREAM', streamKey)) as unknown[];
    } catch (err) {
      if (/no such key/i.test((err as Error).message)) return { lastId: '0-0', firstId: null, maxDeletedId: null, trimmed: false, lastSeq: null };
      throw err;
    }
    const value = (name: string) => info[info.indexOf(name) + 1];
    const first = value('first-entry') as RawEntry | null | undefined;
    const last = value('last-entry') as RawEntry | null | undefined;
    const maxDeleted = info.includes('max-deleted-entry-id') ? String(value('max-deleted-entry-id')) : null;
    const added = info.includes('entries-added') ? Number(value('entries-added')) : null;
    return {
      lastId: String(value('last-generated-id')),
      firstId: first ? first[0] : null,
      maxDeletedId: maxDeleted === '0-0' ? null : maxDeleted,
      trimmed: added === null || added > Number(value('length')),
      lastSeq: last ? toEntry(last).seq : null,
    };
  }

  async function run(connection: Redis): Promise<void> {
    let cursor: string | null = null;
    // Failures in a row: each waits twice as long as the one before (250 ms .. 5 s), so a Redis that
    // answers every read with an error (READONLY during a failover) is asked a few times a second at
    // first and every 5 s after, not as fast as it can answer.
    let failures = 0;
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
        failures = 0;
      } catch (err) {
        if (closed) return;
        failures++;
        deps.onError?.(err as Error);
        const waitMs = Math.min(250 * 2 ** (failures - 1), 5000);
        await new Promise((resolve) => setTimeout(resolve, waitMs * (0.75 + Math.random() * 0.5)));
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
    async countAfter(afterId, at, signal) {
      if (compareStreamIds(afterId, at.lastId) >= 0) return 0;
      const next = await catchUpRead(signal, (redis) => redis.xrange(streamKey, `(${afterId}`, '+', 'COUNT', 1) as Promise<RawEntry[]>);
      if (next === null) return null;
      const first = next[0];
      if (!first) return 0;
      const seq = toEntry(first).seq;
      if (seq === null || at.lastSeq === null || at.lastSeq < seq) return null;
      return at.lastSeq - seq + 1;
    },
    async *pages(afterId, untilId, options = {}) {
      const pageSize = options.pageSize ?? 200;
      let from = `(${afterId}`;
      for (;;) {
        const page = await catchUpRead(options.signal, (redis) => redis.xrange(streamKey, from, untilId, 'COUNT', pageSize) as Promise<RawEntry[]>);
        if (page === null) return;
        if (page.length > 0) yield page.map(toEntry);
        const lastId = page[page.length - 1]?.[0];
        if (page.length < pageSize || lastId === untilId) return;
        from = `(${lastId}`;
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
