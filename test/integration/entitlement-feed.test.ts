/**
 * The entitlement feed on a real Redis: a change is published once to the bounded stream and to pub/sub,
 * an unchanged answer is not, and a summary computed from an older projection never overwrites a newer one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { cleanupPrefix, createTestRedis, uniquePrefix, waitFor } from '../support/redis.js';
import { createEntitlementFeed, type EntitlementFeed } from '../../src/store/entitlement-feed.js';
import type { EntitlementSummary } from '../../src/domain/entitlement-change.js';

const active: EntitlementSummary = { entitled: true, status: 'active', reason: 'subscribed', card: 'pm_1' };
const expired: EntitlementSummary = { entitled: false, status: 'card_expired', reason: 'card_expired', card: 'pm_1' };

describe('entitlement feed', () => {
  let redis: Redis;
  let feed: EntitlementFeed;
  const prefix = uniquePrefix('feed');

  before(() => {
    redis = createTestRedis();
    feed = createEntitlementFeed({ redis, prefix, maxLength: 100 });
  });
  after(async () => {
    await cleanupPrefix(redis, prefix);
    await redis.quit();
  });

  test('a change is published once, with the previous answer, on the stream and on pub/sub', async () => {
    const subscriber = createTestRedis();
    const messages: string[] = [];
    subscriber.on('message', (_c, m) => messages.push(m));
    await subscriber.subscribe(feed.channel);
    try {
      const at = Date.UTC(2027, 0, 1);
      assert.deepEqual(await feed.publishIfChanged({ customerId: 'cus_feed1', user: 'u1', version: 1, summary: active, at }), { published: true, previous: null });
      assert.deepEqual(await feed.publishIfChanged({ customerId: 'cus_feed1', user: 'u1', version: 2, summary: active, at }), { published: false });
      assert.deepEqual(await feed.publishIfChanged({ customerId: 'cus_feed1', user: 'u1', version: 3, summary: expired, at }), { published: true, previous: active });
      const changes = (await feed.readChanges()).filter((c) => c.customer === 'cus_feed1');
      assert.deepEqual(changes, [
        // Without feature configuration every entry is about the one default feature.
        { customer: 'cus_feed1', user: 'u1', feature: 'content', previous: null, next: active, version: 1, at: '2027-01-01T00:00:00.000Z' },
        { customer: 'cus_feed1', user: 'u1', feature: 'content', previous: active, next: expired, version: 3, at: '2027-01-01T00:00:00.000Z' },
      ]);
      await waitFor(() => messages.length === 2, { message: 'two pub/sub messages' });
      assert.deepEqual(messages.map((m) => JSON.parse(m)), changes);
    } finally {
      await subscriber.quit();
    }
  });

  test('a summary from an older projection version never overwrites a newer one', async () => {
    await feed.publishIfChanged({ customerId: 'cus_feed2', user: null, version: 5, summary: expired, at: 0 });
    assert.deepEqual(await feed.publishIfChanged({ customerId: 'cus_feed2', user: null, version: 4, summary: active, at: 0 }), { published: false });
    // The same version may still change with time alone (a grace period ending).
    assert.equal((await feed.publishIfChanged({ customerId: 'cus_feed2', user: null, version: 5, summary: active, at: 0 })).published, true);
  });

  test('per feature: each feature\'s change is its own entry; a feature no longer held is published gone', async () => {
    const news = { feature: 'news', summary: active };
    const puzzles = { feature: 'puzzles', summary: active };
    const published = await feed.publishFeatures({ customerId: 'cus_feat', user: 'uf', version: 1, summaries: [{ feature: 'content', summary: active }, news, puzzles], at: 0 });
    assert.deepEqual(published.map((p) => [p.feature, p.previous]), [['content', null], ['news', null], ['puzzles', null]]);
    // Only the News card expired: one entry, for news.
    const second = await feed.publishFeatures({ customerId: 'cus_feat', user: 'uf', version: 2, summaries: [{ feature: 'content', summary: active }, { feature: 'news', summary: expired }, puzzles], at: 0 });
    assert.deepEqual(second.map((p) => [p.feature, p.previous, p.next]), [['news', active, expired]]);
    // Puzzles swapped away: it is published as not in the plan, once.
    const gone = { entitled: false, status: 'none', reason: 'not_in_plan', card: null };
    const third = await feed.publishFeatures({ customerId: 'cus_feat', user: 'uf', version: 3, summaries: [{ feature: 'content', summary: active }, { feature: 'news', summary: expired }], at: 0 });
    assert.deepEqual(third.map((p) => [p.feature, p.next]), [['puzzles', gone]]);
    assert.deepEqual(await feed.publishFeatures({ customerId: 'cus_feat', user: 'uf', version: 4, summaries: [{ feature: 'content', summary: active }], at: 0 }).then((r) => r.map((p) => p.feature)), ['news']);
    const entries = (await feed.readChanges()).filter((c) => c.customer === 'cus_feat');
    assert.deepEqual(entries.map((c) => [c.feature, c.next.status, c.version]), [
      ['content', 'active', 1], ['news', 'active', 1], ['puzzles', 'active', 1], ['news', 'card_expired', 2], ['puzzles', 'none', 3], ['news', 'none', 4],
    ]);
  });

  test('the stream stays bounded', async () => {
    for (let i = 0; i < 1000; i++) {
      await feed.publishIfChanged({ customerId: `cus_bulk${i}`, user: null, version: 1, summary: active, at: 0 });
    }
    const length = await redis.xlen(feed.streamKey);
    // MAXLEN ~ trims whole nodes (100 entries each by default): the length stays within one node of the cap.
    assert.ok(length >= 100 && length <= 200, `stream length ${length}`);
  });
});
