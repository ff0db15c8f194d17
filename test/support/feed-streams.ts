/**
 * For tests of GET /v1/entitlements/events on a listening server: the route mounted on its own with the
 * one error writer, each response watched (how much it ever buffered, how many change frames it wrote,
 * when it closed), a Redis connection that counts the catch-up reads made through it, raw streams whose
 * reading the test paces, and changes published through the real feed writer.
 */
import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Redis } from 'ioredis';
import { createEntitlementEventsRouter, EVENTS_PATH, type EntitlementEventsRouteDeps } from '../../src/http/entitlement-events-route.js';
import { createErrorMiddleware } from '../../src/http/errors.js';
import { createSilentLogger } from '../../src/logger.js';
import { createSseParser, type SseMessage } from '@subgate/client';
import type { EntitlementFeed } from '../../src/store/entitlement-feed.js';
import type { EntitlementSummary } from '../../src/domain/entitlement-change.js';

export interface ReadCounts {
  /** XRANGE calls of more than one entry (catch-up pages), and the entries they returned. */
  pages: number;
  entries: number;
  /** XRANGE calls of one entry (the "how far behind" probe). */
  probes: number;
  inFlight: number;
  /** Most XRANGE calls ever in flight at once. */
  maxInFlight: number;
  /** Most entries ever read but not yet written as change frames (given `written`). */
  maxAhead: number;
  /** Change frames written so far, for `maxAhead`. */
  written: () => number;
  reset(): void;
}

export function createReadCounts(): ReadCounts {
  const counts: ReadCounts = {
    pages: 0,
    entries: 0,
    probes: 0,
    inFlight: 0,
    maxInFlight: 0,
    maxAhead: 0,
    written: () => 0,
    reset() {
      Object.assign(counts, { pages: 0, entries: 0, probes: 0, inFlight: 0, maxInFlight: 0, maxAhead: 0, written: () => 0 });
    },
  };
  return counts;
}

/** `target` with its XRANGE calls counted (no MONITOR: only what goes through this object). */
export function countingRedis(target: Redis, counts: ReadCounts): Redis {
  const xrange = target.xrange.bind(target) as (...args: unknown[]) => Promise<Array<[string, string[]]>>;
  return new Proxy(target, {
    get(object, prop) {
      if (prop === 'xrange') {
        return async (...args: unknown[]) => {
          counts.maxInFlight = Math.max(counts.maxInFlight, ++counts.inFlight);
          try {
            const page = await xrange(...args);
            if (Number(args[args.length - 1]) === 1) counts.probes++;
            else {
              counts.pages++;
              counts.entries += page.length;
              counts.maxAhead = Math.max(counts.maxAhead, counts.entries - counts.written());
            }
            return page;
          } finally {
            counts.inFlight--;
          }
        };
      }
      const value = Reflect.get(object, prop, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

export interface WatchedResponse {
  res: ServerResponse;
  /** Most bytes ever waiting in the response's buffer right after a write. */
  maxBuffered: number;
  changesWritten: number;
  closed: boolean;
}

function watch(res: ServerResponse): WatchedResponse {
  const watched: WatchedResponse = { res, maxBuffered: 0, changesWritten: 0, closed: false };
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    watched.changesWritten += text.split('\nevent: change\n').length - 1;
    const ok = write(chunk, ...rest);
    watched.maxBuffered = Math.max(watched.maxBuffered, res.writableLength);
    return ok;
  }) as ServerResponse['write'];
  res.on('close', () => {
    watched.closed = true;
  });
  return watched;
}

export interface FeedServer {
  url: string;
  /** Every response of the events route, in arrival order. */
  streams: WatchedResponse[];
  /** Drops every open connection (the network between client and server fails); the server stays up. */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startFeedServer(deps: Omit<EntitlementEventsRouteDeps, 'logger'>): Promise<FeedServer> {
  const logger = createSilentLogger();
  const app = express();
  app.use(createEntitlementEventsRouter({ logger, ...deps }));
  app.use(createErrorMiddleware(logger));
  const streams: WatchedResponse[] = [];
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith(EVENTS_PATH)) streams.push(watch(res));
    app(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    streams,
    dropConnections: () => server.closeAllConnections(),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** GET the events route with node:http, so the test decides when (and whether) the body is read. */
export function openStream(url: string, opts: { token: string; lastEventId?: string; paused?: boolean }): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.token}` };
    if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
    const req = get(`${url}${EVENTS_PATH}`, { headers, agent: false }, (res) => {
      if (opts.paused) res.pause();
      res.setEncoding('utf8');
      resolve(res);
    });
    req.on('error', reject);
  });
}

/**
 * Reads messages until `until` holds, then hangs up (or, with `keepOpen`, pauses the stream for the next
 * read); resolves early, with what arrived, if the stream ends or the server cuts it off.
 */
export function readUntil(res: IncomingMessage, until: (messages: SseMessage[]) => boolean, opts: { keepOpen?: boolean } = {}): Promise<SseMessage[]> {
  return new Promise((resolve) => {
    const messages: SseMessage[] = [];
    const parser = createSseParser((message) => messages.push(message));
    const finish = () => {
      res.off('data', onData);
      res.off('end', finish);
      res.off('error', finish);
      if (opts.keepOpen) res.pause();
      else res.destroy();
      resolve(messages);
    };
    const onData = (chunk: string) => {
      parser.push(chunk);
      if (until(messages)) finish();
    };
    res.on('data', onData);
    res.on('end', finish);
    res.on('error', finish);
    res.resume();
  });
}

export const untilReady = (messages: SseMessage[]) => messages[messages.length - 1]?.event === 'ready';

const ACTIVE: EntitlementSummary = { entitled: true, status: 'active', reason: 'subscribed', card: 'pm_1' } as EntitlementSummary;

/**
 * Publishes `count` changes through the real feed writer, customers `cus_<tag><i>` in order (one
 * connection, pipelined: the stream holds them in that order); `userPad` characters make entries bigger.
 */
export async function publishChanges(feed: EntitlementFeed, count: number, tag: string, userPad = 0): Promise<string[]> {
  const customers = Array.from({ length: count }, (_, i) => `cus_${tag}${i}`);
  const pad = 'x'.repeat(userPad);
  for (let i = 0; i < count; i += 500) {
    const results = await Promise.all(
      customers.slice(i, i + 500).map((customerId, j) => feed.publishIfChanged({ customerId, user: `reader-${i + j}${pad}`, version: 1, summary: ACTIVE, at: 0 })),
    );
    if (results.some((result) => !result.published)) throw new Error('publishChanges: a change was not published');
  }
  // Published 500 at a time, so the stream's order among them is the order the appends landed (on a
  // cluster the customers' slots answer at their own pace): the customers as the stream holds them.
  const mine = new Set(customers);
  return (await feed.readChanges(count)).map((change) => change.customer).filter((id) => mine.has(id));
}
