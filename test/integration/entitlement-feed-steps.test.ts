/**
 * The feed's publication is two steps on two cluster slots (record on the customer's, append on the
 * feed's): a process that dies between them leaves the change recorded and pending, and the next
 * publication of that customer appends it first, once, in order; racing publishers append it once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { cleanupPrefix, createTestRedis, uniquePrefix } from '../support/redis.js';
import { createEntitlementFeed, type EntitlementFeed } from '../../src/store/entitlement-feed.js';
import type { EntitlementSummary } from '../../src/domain/entitlement-change.js';

const active: EntitlementSummary = { entitled: true, status: 'active', reason: 'subscribed', card: 'pm_1' };
const expired: EntitlementSummary = { entitled: false, status: 'card_expired', reason: 'card_expired', card: 'pm_1' };
const at = Date.parse('2026-12-01T00:00:00Z');

describe('entitlement feed: a publication cut between its two steps', () => {
  let redis: Redis;
  let feed: EntitlementFeed;
  const prefix = uniquePrefix('feed-steps');

  before(() => {
    redis = createTestRedis();
    feed = createEntitlementFeed({ redis, prefix, maxLength: 1000 });
  });
  after(async () => {
    await cleanupPrefix(redis, prefix);
    await redis.quit();
  });

  test('recorded but not appended (the append fails): the next publication appends it first, each once', async () => {
    const scripted = redis as unknown as { subgateAppendEntitlement: (...args: unknown[]) => Promise<number> };
    const append = scripted.subgateAppendEntitlement;
    scripted.subgateAppendEntitlement = async () => {
      throw new Error('Connection is closed.');
    };
    try {
      await assert.rejects(feed.publishIfChanged({ customerId: 'cus_cut', user: 'u1', version: 1, summary: active, at }), /Connection is closed/);
    } finally {
      scripted.subgateAppendEntitlement = append;
    }
    assert.deepEqual(await feed.readChanges(), [], 'nothing reached the stream');

    // The job is retried: the same answer is no new change, but the pending one goes out now.
    assert.deepEqual(await feed.publishIfChanged({ customerId: 'cus_cut', user: 'u1', version: 1, summary: active, at }), { published: false });
    assert.deepEqual((await feed.readChanges()).map((c) => [c.customer, c.version, c.next.status]), [['cus_cut', 1, 'active']]);

    // A later change follows it; nothing is appended twice.
    assert.deepEqual(await feed.publishIfChanged({ customerId: 'cus_cut', user: 'u1', version: 2, summary: expired, at }), { published: true, previous: active });
    await feed.publishIfChanged({ customerId: 'cus_cut', user: 'u1', version: 2, summary: expired, at });
    assert.deepEqual((await feed.readChanges()).map((c) => [c.customer, c.version, c.next.status]), [
      ['cus_cut', 1, 'active'],
      ['cus_cut', 2, 'card_expired'],
    ]);
  });

  test('ten publishers racing over one change append it once', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => feed.publishIfChanged({ customerId: 'cus_race', user: null, version: 4, summary: active, at })));
    assert.equal(results.filter((r) => r.published).length, 1, 'one of them recorded it');
    assert.equal((await feed.readChanges()).filter((c) => c.customer === 'cus_race').length, 1, 'one entry in the stream');
  });
});
