/**
 * The hash-tag rule of key-layout.ts, checked with the slot function ioredis's Cluster client routes by:
 * keys a script touches together share a slot, customers and queues spread over the slots of a 3-master
 * cluster, every key stays under `<prefix>:`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SHARDS, customerKey, indexKey, queuePrefix, shardOf } from '../../src/store/key-layout.js';
import { subscriberKeys } from '../../src/store/subscriber-store.js';
import { entitlementStreamKeys } from '../../src/store/entitlement-feed.js';
import { OPS_QUEUE, QUEUE } from '../../src/queues.js';
import { slotOf } from '../support/key-slots.js';

const PREFIX = 'subgate';
/** The slot ranges `redis-cli --cluster create` gives three masters. */
const nodeOf = (slot: number) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2);
const ids = Array.from({ length: 20_000 }, (_, i) => `cus_${(i * 2654435761 >>> 0).toString(36)}${i}`);

describe('key layout', () => {
  test("a customer's hash and its shard of the expiry index share a slot (the write script's two keys)", () => {
    const keys = subscriberKeys(PREFIX);
    for (const id of ids.slice(0, 2000)) assert.equal(slotOf(keys.customer(id)), slotOf(keys.expiryIndexFor(id)), id);
  });

  test("the feed's stream, counter and markers share one slot; a customer's last-published hash is in the customer's", () => {
    const keys = entitlementStreamKeys(PREFIX);
    const slot = slotOf(keys.stream);
    assert.equal(slotOf(keys.seq), slot);
    for (const id of ids.slice(0, 200)) {
      assert.equal(slotOf(keys.marker(id, 7)), slot);
      assert.equal(slotOf(keys.lastPublished(id)), slotOf(subscriberKeys(PREFIX).customer(id)));
    }
  });

  test('customers spread over every node of a 3-master cluster, none holding more than 40%', () => {
    const perNode = [0, 0, 0];
    for (const id of ids) perNode[nodeOf(slotOf(customerKey(PREFIX, 'cus', id)))]!++;
    for (const count of perNode) assert.ok(count / ids.length > 0.25 && count / ids.length < 0.4, `customers per node: ${perNode.join(', ')}`);
    const shards = new Set(ids.map(shardOf));
    assert.equal(shards.size, SHARDS, 'every shard is used');
    assert.equal(new Set(Array.from({ length: SHARDS }, (_, s) => slotOf(indexKey(PREFIX, 'users', s)))).size, SHARDS, 'one slot per shard');
  });

  test("each queue's keys share a slot of their own, and the queues are not all on one node", () => {
    const queues = [...Object.values(QUEUE), ...Object.values(OPS_QUEUE)];
    const slots = queues.map((name) => {
      const prefix = queuePrefix(PREFIX, name);
      // What BullMQ builds: `<prefix>:<queue>:<suffix>` for every key of one queue.
      const keySlots = new Set(['wait', 'active', 'delayed', 'prioritized', 'meta', 'events', 'stalled-check', 'marker', 'id', '1234'].map((suffix) => slotOf(`${prefix}:${name}:${suffix}`)));
      assert.equal(keySlots.size, 1, `${name}: one slot for every key`);
      return [...keySlots][0]!;
    });
    assert.equal(new Set(slots).size, queues.length, 'one slot per queue');
    assert.ok(new Set(slots.map(nodeOf)).size >= 2, `queues over nodes: ${slots.map(nodeOf).join(',')}`);
  });

  test('every key stays under `<prefix>:` (a SCAN for `<prefix>:*` finds them all)', () => {
    const keys = [customerKey(PREFIX, 'cus', 'cus_1'), indexKey(PREFIX, 'users', 3), entitlementStreamKeys(PREFIX).stream, queuePrefix(PREFIX, 'notices')];
    for (const key of keys) assert.ok(key.startsWith(`${PREFIX}:`), key);
  });
});
