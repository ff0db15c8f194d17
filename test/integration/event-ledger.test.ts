/**
 * The seen-event ledger on a real Redis: a claim, its confirmation, and a release that only ever undoes
 * the releasing delivery's own unconfirmed claim.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { cleanupPrefix, createTestRedis, uniquePrefix } from '../support/redis.js';
import { createEventLedger, type EventLedger } from '../../src/store/event-ledger.js';

describe('event ledger', () => {
  let redis: Redis;
  let ledger: EventLedger;
  const prefix = uniquePrefix('ledger');

  before(() => {
    redis = createTestRedis();
    ledger = createEventLedger({ redis, prefix });
  });
  after(async () => {
    await cleanupPrefix(redis, prefix);
    await redis.quit();
  });

  test('a claim is new once, pending until confirmed, then enqueued', async () => {
    assert.equal(await ledger.claim('evt_l1', 1000), 'new');
    assert.equal(await ledger.claim('evt_l1', 2000), 'pending');
    await ledger.markEnqueued('evt_l1');
    assert.equal(await ledger.claim('evt_l1', 3000), 'enqueued');
    assert.equal(await ledger.receivedAt('evt_l1'), 1000);
  });

  test('a delivery releases its own unconfirmed claim, so the retry is accepted', async () => {
    assert.equal(await ledger.claim('evt_l2', 1000), 'new');
    await ledger.release('evt_l2', 1000);
    assert.equal(await ledger.claim('evt_l2', 2000), 'new');
  });

  test('a late release never erases a claim another delivery has since confirmed', async () => {
    // Delivery A claimed, its request timed out (503); Stripe's retry B found the claim pending, enqueued
    // and confirmed it; only then does A's failed enqueue get round to releasing.
    assert.equal(await ledger.claim('evt_l3', 1000), 'new');
    assert.equal(await ledger.claim('evt_l3', 2000), 'pending');
    await ledger.markEnqueued('evt_l3');
    await ledger.release('evt_l3', 1000);
    assert.equal(await ledger.has('evt_l3'), true);
    assert.equal(await ledger.claim('evt_l3', 3000), 'enqueued', 'the next redelivery is still a duplicate');
  });

  test("a release with another delivery's instant leaves the claim alone", async () => {
    assert.equal(await ledger.claim('evt_l4', 1000), 'new');
    await ledger.release('evt_l4', 999);
    assert.equal(await ledger.claim('evt_l4', 2000), 'pending');
  });
});
