/**
 * What the change feed allows, on a listening server and a real Redis: open streams per token and per
 * process (429 and 503 with Retry-After, counted), the max replay for entries that carry no number, and
 * @subgate/client catching up from thousands of changes behind (more than the old 1 MB cut-off allowed).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { cleanupPrefix, createTestRedis, uniquePrefix, waitFor } from '../support/redis.js';
import { openStream, publishChanges, readUntil, startFeedServer, untilReady } from '../support/feed-streams.js';
import { createEntitlementChangeReader, type EntitlementChangeReader } from '../../src/store/entitlement-change-reader.js';
import { createEntitlementFeed, type EntitlementFeed } from '../../src/store/entitlement-feed.js';
import { createTokenCheck } from '../../src/http/bearer-auth.js';
import { EVENTS_PATH } from '../../src/http/entitlement-events-route.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { createEntitlementClient } from '@subgate/client';
import { systemClock } from '../../src/runtime.js';

const SITE_A = 'limits-site-a-token-0000001';
const SITE_B = 'limits-site-b-token-0000002';

describe('change feed limits', () => {
  const prefix = uniquePrefix('feed-limits');
  const checkToken = createTokenCheck([
    { name: 'site-a', scopes: ['check', 'feed'], token: SITE_A },
    { name: 'site-b', scopes: ['check', 'feed'], token: SITE_B },
  ]);
  let redis: Redis;
  let reader: EntitlementChangeReader;
  let feed: EntitlementFeed;

  before(() => {
    redis = createTestRedis();
    // The blocking connection is disconnected by reader.close().
    reader = createEntitlementChangeReader({ redis, prefix, openBlockingConnection: () => createTestRedis() });
    feed = createEntitlementFeed({ redis, prefix, maxLength: 100_000 });
  });
  after(async () => {
    await reader.close();
    await cleanupPrefix(redis, prefix);
    await redis.quit();
  });

  test('a token may hold N streams (then 429) and the process M (then 503), both with Retry-After and counted', async () => {
    const metrics = createMetrics({ clock: systemClock });
    const server = await startFeedServer({ checkToken, reader, maxConnectionsPerToken: 2, maxConnections: 3, onFeedEvent: metrics.recordFeed });
    const open: AbortController[] = [];
    const connect = async (token: string) => {
      const controller = new AbortController();
      open.push(controller);
      const res = await fetch(`${server.url}${EVENTS_PATH}`, { headers: { Authorization: `Bearer ${token}` }, signal: controller.signal });
      return { res, controller };
    };
    try {
      const a1 = await connect(SITE_A);
      const a2 = await connect(SITE_A);
      const a3 = await connect(SITE_A);
      const b1 = await connect(SITE_B);
      const b2 = await connect(SITE_B);

      assert.deepEqual([a1, a2, a3, b1, b2].map((c) => c.res.status), [200, 200, 429, 200, 503]);
      assert.deepEqual([a3.res.headers.get('retry-after'), b2.res.headers.get('retry-after')], ['5', '5']);
      const [tooMany, full] = (await Promise.all([a3.res.json(), b2.res.json()])) as Array<{ error: { code: string; message: string } }>;
      assert.equal(tooMany!.error.code, 'too_many_connections');
      assert.match(tooMany!.error.message, /2 open event streams/);
      assert.equal(full!.error.code, 'at_capacity');
      const text = await metrics.registry.metrics();
      assert.match(text, /subgate_feed_events_total\{event="refused",reason="token_limit"\} 1\n/);
      assert.match(text, /subgate_feed_events_total\{event="refused",reason="process_limit"\} 1\n/);
      assert.match(text, /subgate_feed_streams\{token="site-a"\} 2\n/);
      assert.match(text, /subgate_feed_streams\{token="site-b"\} 1\n/);

      // A stream that ends gives its slot back.
      a1.controller.abort();
      await waitFor(() => server.streams[0]!.closed, { message: 'the first stream to close' });
      assert.equal((await connect(SITE_A)).res.status, 200);
      assert.match(await metrics.registry.metrics(), /subgate_feed_streams\{token="site-a"\} 2\n/);
    } finally {
      for (const controller of open) controller.abort();
      await server.close();
    }
  });

  test('entries that carry no number (written by an older writer) are counted as they are replayed', async () => {
    const from = (await reader.position()).lastId;
    for (let i = 0; i < 30; i++) {
      const change = { customer: `cus_legacy${i}`, user: null, previous: null, next: { entitled: true, status: 'active', reason: 'subscribed', card: null }, version: 1, at: '2027-01-01T00:00:00.000Z' };
      await redis.xadd(reader.streamKey, '*', 'customer', change.customer, 'change', JSON.stringify(change));
    }
    const tight = await startFeedServer({ checkToken, reader, maxReplay: 10 });
    const roomy = await startFeedServer({ checkToken, reader, maxReplay: 30 });
    try {
      const reset = await readUntil(await openStream(tight.url, { token: SITE_A, lastEventId: from }), untilReady);
      assert.deepEqual(reset.map((m) => m.event), ['reset', 'ready']);
      assert.deepEqual(JSON.parse(reset[0]!.data), { reason: 'too_far_behind' });

      const replayed = await readUntil(await openStream(roomy.url, { token: SITE_A, lastEventId: from }), untilReady);
      assert.deepEqual(replayed.map((m) => m.event), [...Array<string>(30).fill('change'), 'ready']);
    } finally {
      await Promise.all([tight.close(), roomy.close()]);
    }
  });

  test('@subgate/client 5,000 changes behind replays them all and goes live, resuming with its id once', { timeout: 120_000 }, async () => {
    const server = await startFeedServer({ checkToken, reader });
    const gate = { down: false, resumes: [] as string[] };
    const gated: typeof fetch = async (input, init) => {
      if (gate.down) throw new TypeError('fetch failed');
      const id = new Headers(init?.headers).get('last-event-id');
      if (String(input).includes(EVENTS_PATH) && id) gate.resumes.push(id);
      return fetch(input, init);
    };
    const changes: string[] = [];
    const client = createEntitlementClient({
      baseUrl: server.url,
      token: SITE_A,
      fetch: gated,
      live: { initialBackoffMs: 20, maxBackoffMs: 100 },
      onChange: (change) => changes.push(change.customer),
    });
    try {
      await client.whenLive();
      gate.down = true;
      server.dropConnections();
      await waitFor(() => client.liveState !== 'live', { message: 'the client to notice the stream is gone' });
      // ~500-byte entries: 2.5 MB of backlog, past the 1 MB at which a replay used to be cut off.
      const missed = await publishChanges(feed, 5_000, 'behind', 300);
      gate.down = false;

      await waitFor(() => changes.length >= missed.length && client.liveState === 'live', { timeoutMs: 60_000, message: 'the client to catch up and go live' });
      assert.deepEqual(changes, missed, 'every missed change, in order');
      assert.equal(gate.resumes.length, 1, `one resume with its id (${gate.resumes.length})`);
    } finally {
      await client.close();
      await server.close();
    }
  });

  test('a process shutting its feed down answers a new stream 503 (and frees the slot), not 500', async () => {
    const closed = createEntitlementChangeReader({ redis, prefix, openBlockingConnection: () => createTestRedis() });
    await closed.close();
    const server = await startFeedServer({ checkToken, reader: closed, maxConnectionsPerToken: 1 });
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${server.url}${EVENTS_PATH}`, { headers: { Authorization: `Bearer ${SITE_A}` } });
        assert.equal(res.status, 503);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unavailable');
      }
    } finally {
      await server.close();
    }
  });
});
