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
        { customer: 'cus_feed1', user: 'u1', previous: null, next: active, version: 1, at: '2027-01-01T00:00:00.000Z' },
        { customer: 'cus_feed1', user: 'u1', previous: active, next: expired, version: 3, at: '2027-01-01T00:00:00.000Z' },
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

  test('the stream stays bounded', async () => {
    for (let i = 0; i < 1000; i++) {
      await feed.publishIfChanged({ customerId: `cus_bulk${i}`, user: null, version: 1, summary: active, at: 0 });
    }
    const length = await redis.xlen(feed.streamKey);
    // MAXLEN ~ trims whole nodes (100 entries each by default): the length stays within one node of the cap.
    assert.ok(length >= 100 && length <= 200, `stream length ${length}`);
  });
});
