/**
 * Resuming the change feed from far back, on a listening server and a real Redis, the stream seeded with
 * 20,000 changes through the real feed writer: the server holds one page at a time and goes at the
 * reader's pace, stops reading when the reader hangs up, resets a resume beyond the max replay without
 * reading the backlog, and resets a replay the live tip runs away from.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { cleanupPrefix, createTestRedis, uniquePrefix, waitFor } from '../support/redis.js';
import { countingRedis, createReadCounts, openStream, publishChanges, readUntil, startFeedServer, untilReady } from '../support/feed-streams.js';
import { createEntitlementChangeReader, type EntitlementChangeReader } from '../../src/store/entitlement-change-reader.js';
import { createEntitlementFeed, type EntitlementFeed } from '../../src/store/entitlement-feed.js';
import { createTokenCheck } from '../../src/http/bearer-auth.js';

const TOKEN = 'replay-test-token-000000001';
const SEEDED = 20_000;
const PAGE = 200;
/** A response's own buffer, past which write() asks the writer to wait for 'drain'. */
const HIGH_WATER_MARK = 16_384;

describe('resuming the change feed from 20,000 changes back', () => {
  const prefix = uniquePrefix('feed-replay');
  const counts = createReadCounts();
  const checkToken = createTokenCheck([TOKEN]);
  let redis: Redis;
  let reader: EntitlementChangeReader;
  let feed: EntitlementFeed;
  let resumeFrom: string;
  let seeded: string[];
  let maxFrameBytes = 0;

  before(async () => {
    redis = createTestRedis();
    reader = createEntitlementChangeReader({
      // Position and catch-up reads alike go through the counter, whichever connection the reader uses.
      redis: countingRedis(redis, counts),
      catchUpRedis: countingRedis(redis, counts),
      prefix,
      // Disconnected by reader.close().
      openBlockingConnection: () => createTestRedis(),
    });
    feed = createEntitlementFeed({ redis, prefix, maxLength: 100_000 });
    await publishChanges(feed, 1, 'first');
    resumeFrom = (await reader.position()).lastId;
    // ~800-byte entries: 16 MB of backlog, several times what the kernel's socket buffers can hold.
    seeded = await publishChanges(feed, SEEDED, 'seed', 600);
    for (let from = `(${resumeFrom}`; ; ) {
      const page = await redis.xrange(reader.streamKey, from, '+', 'COUNT', 1000);
      for (const [id, fields] of page) maxFrameBytes = Math.max(maxFrameBytes, `id: ${id}\nevent: change\ndata: ${fields[fields.indexOf('change') + 1]}\n\n`.length);
      if (page.length < 1000) break;
      from = `(${page[page.length - 1]![0]}`;
    }
  });
  after(async () => {
    await reader.close();
    await cleanupPrefix(redis, prefix);
    await redis.quit();
  });

  test('a slow reader gets every change in order, then ready, while the server holds at most one page for it', { timeout: 120_000 }, async () => {
    const server = await startFeedServer({ checkToken, reader, maxReplay: 100_000, pageSize: PAGE });
    try {
      counts.reset();
      counts.written = () => server.streams[0]?.changesWritten ?? 0;
      const res = await openStream(server.url, { token: TOKEN, lastEventId: resumeFrom, paused: true });
      const stream = server.streams[0]!;
      // The reader reads nothing yet: once the kernel's buffers are full a page waits in the server's own.
      await waitFor(() => stream.res.writableLength > HIGH_WATER_MARK, { timeoutMs: 30_000, message: 'the server to be held up by the paused reader' });
      const entriesReadWhileStalled = counts.entries;

      const messages = await readUntil(res, untilReady);

      const changes = messages.filter((m) => m.event === 'change');
      assert.equal(changes.length, SEEDED);
      assert.deepEqual(changes.map((m) => (JSON.parse(m.data) as { customer: string }).customer), seeded, 'every change, in order');
      assert.deepEqual([messages.at(-1)!.event, messages.at(-1)!.data, messages.at(-1)!.lastEventId], ['ready', '{"resumed":true}', changes.at(-1)!.lastEventId]);
      assert.ok(entriesReadWhileStalled < SEEDED, `the server stopped reading while the reader did not read (${entriesReadWhileStalled} of ${SEEDED} read)`);
      assert.ok(counts.maxAhead <= PAGE, `never more than one page read ahead of what was written (${counts.maxAhead} entries)`);
      const bound = PAGE * maxFrameBytes + HIGH_WATER_MARK;
      assert.ok(stream.maxBuffered <= bound, `the response never buffered more than a page (${stream.maxBuffered} bytes, bound ${bound})`);
    } finally {
      await server.close();
    }
  });

  test('a reader that hangs up mid-replay stops the replay: no page is read after it left', { timeout: 60_000 }, async () => {
    const server = await startFeedServer({ checkToken, reader, maxReplay: 100_000, pageSize: PAGE });
    try {
      counts.reset();
      const res = await openStream(server.url, { token: TOKEN, lastEventId: resumeFrom, paused: true });
      await waitFor(() => counts.pages >= 1, { intervalMs: 1, message: 'the replay to start' });
      res.destroy(); // the reader hangs up
      const stream = server.streams[0]!;
      await waitFor(() => stream.closed, { message: 'the server to see the reader leave' });
      const pagesAtClose = counts.pages;
      await waitFor(() => counts.inFlight === 0 && reader.listenerCount === 0, { message: 'the stream to be let go' });
      await redis.ping(); // anything queued on the connection behind the last read has run

      assert.ok(counts.pages <= pagesAtClose + 1, `at most the read in flight when it left (${pagesAtClose} pages, then ${counts.pages})`);
      assert.ok(counts.entries < SEEDED, `the backlog was not read to its end (${counts.entries} of ${SEEDED} entries)`);
    } finally {
      await server.close();
    }
  });

  test('catch-up reads are limited in the whole process: eight streams replaying at once read four pages at a time', { timeout: 60_000 }, async () => {
    const server = await startFeedServer({ checkToken, reader, maxReplay: 100_000, pageSize: PAGE });
    try {
      // 2,000 changes back: ten pages for each stream.
      const [[from]] = (await redis.xrevrange(reader.streamKey, '+', '-', 'COUNT', 2001)).slice(-1) as [[string, string[]]];
      counts.reset();
      const streams = await Promise.all(Array.from({ length: 8 }, () => openStream(server.url, { token: TOKEN, lastEventId: from })));
      const replays = await Promise.all(streams.map((res) => readUntil(res, untilReady)));

      assert.ok(counts.maxInFlight <= 4, `at most four reads in flight (${counts.maxInFlight})`);
      assert.ok(replays.every((messages) => messages.filter((m) => m.event === 'change').length === 2000 && untilReady(messages)), 'each got its 2,000 changes');
      assert.equal(counts.pages, 8 * 10);
    } finally {
      await server.close();
    }
  });

  test('a resume more than the max replay behind gets reset at once, without reading the backlog', async () => {
    const server = await startFeedServer({ checkToken, reader, maxReplay: 1_000, pageSize: PAGE });
    try {
      counts.reset();
      const messages = await readUntil(await openStream(server.url, { token: TOKEN, lastEventId: resumeFrom }), untilReady);
      const tip = (await reader.position()).lastId;

      assert.deepEqual(messages.map((m) => m.event), ['reset', 'ready']);
      assert.deepEqual(JSON.parse(messages[0]!.data), { reason: 'too_far_behind' });
      assert.deepEqual(messages.map((m) => m.lastEventId), [tip, tip], 'resume from the tip');
      assert.deepEqual([counts.pages, counts.probes], [0, 1], 'one entry read to tell how far behind, no page');
    } finally {
      await server.close();
    }
  });

  test('live changes piling up while a slow replay runs are bounded: past the bound it resets to the live tip', { timeout: 120_000 }, async () => {
    const server = await startFeedServer({ checkToken, reader, maxReplay: 100_000, pageSize: PAGE, maxHeldEntries: 5 });
    const seen: string[] = [];
    const stopWatching = reader.listen({ onEntry: (entry) => seen.push(entry.id), onGap: () => undefined, onClose: () => undefined });
    try {
      const res = await openStream(server.url, { token: TOKEN, lastEventId: resumeFrom, paused: true });
      const stream = server.streams[0]!;
      await waitFor(() => stream.res.writableLength > HIGH_WATER_MARK, { timeoutMs: 30_000, message: 'the replay to be held up by the paused reader' });
      // Six live changes while the replay waits; the stream's listener hears each before this one does.
      await publishChanges(feed, 6, 'live');
      await waitFor(() => seen.length === 6, { message: 'the six live changes to be fanned out' });

      const messages = await readUntil(res, untilReady, { keepOpen: true });
      const events = messages.map((m) => m.event);
      const resetAt = events.indexOf('reset');
      assert.ok(resetAt > 0 && resetAt < SEEDED, `some replayed changes, then a reset (at ${resetAt})`);
      assert.ok(events.slice(0, resetAt).every((e) => e === 'change'));
      assert.deepEqual(events.slice(resetAt), ['reset', 'ready']);
      assert.deepEqual(JSON.parse(messages[resetAt]!.data), { reason: 'fell_behind' });
      assert.deepEqual([messages[resetAt]!.lastEventId, messages.at(-1)!.lastEventId], [seen[5], seen[5]], 'reset to the newest live change');

      // From there it is live.
      await publishChanges(feed, 1, 'after');
      const next = await readUntil(res, (m) => m.length > 0);
      assert.equal(next[0]?.event, 'change');
      assert.match(next[0]!.data, /"customer":"cus_after0"/);
    } finally {
      stopWatching();
      await server.close();
    }
  });
});
