/**
 * Every command subgate sends, over a run through its main paths (refresh, webhook, user change, card
 * expiry sweep, resync, checks by user, the feed) and BullMQ's own scripts under subgate's queue prefixes,
 * touches keys of one Redis Cluster slot: what a cluster needs (else CROSSSLOT). The slots are computed
 * with the function ioredis's Cluster client routes by, from the keys ioredis finds in each command.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { seedSubscriber } from '../support/card-scenarios.js';
import { createTestResync } from '../support/resync.js';
import { crossSlot, recordCommands, slotOf, type SentCommand } from '../support/key-slots.js';
import { testClusterNodes } from '../support/redis.js';
import { isCluster } from '../../src/store/redis-connections.js';

describe('key slots of every command', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ label: 'slots', cardExpiry: {} });
  });
  after(async () => {
    await h.close();
  });

  test('no command spans two slots; the scripts with several keys are among them', async () => {
    assert.equal(isCluster(h.apiRedis), testClusterNodes() !== null, 'under test:cluster the harness runs on cluster clients');
    const recorders = [recordCommands(h.apiRedis), recordCommands(h.workerRedis)];
    const sent: SentCommand[] = [];
    try {
      const first = await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: 'reader-slots' });
      const second = await seedSubscriber(h, { exp_month: 1, exp_year: 2030, user: 'reader-slots' });
      const customer = h.stripe.getCustomer(first.customerId)!;
      assert.equal((await h.deliver(h.stripe.makeEvent('customer.updated', customer))).status, 200);
      await h.settle();
      // The user moves: the customer leaves one user's list (another shard) for another's.
      h.stripe.putCustomer({ ...customer, metadata: { user_id: 'reader-slots-moved' } });
      await h.syncCustomer(first.customerId);
      assert.equal((await h.entitlement({ user: 'reader-slots' })).status, 200);
      assert.equal((await h.entitlement({ user: 'reader-slots-moved' })).status, 200);
      await h.expiry.sweep.sweep();
      await createTestResync(h).run({ fresh: true });
      assert.equal((await h.entitlement({ customer: second.customerId })).status, 200);
      await h.settle();
    } finally {
      for (const recorder of recorders) {
        recorder.stop();
        sent.push(...recorder.commands);
      }
    }
    const multiKey = sent.filter((c) => c.keys.length > 1);
    const names = new Set(multiKey.map((c) => c.name));
    assert.ok(multiKey.length >= 20 && names.has('evalsha'), `multi-key commands seen: ${multiKey.length} (${[...names].join(', ')})`);
    const spanning = crossSlot(sent);
    assert.deepEqual(
      spanning.slice(0, 5).map((c) => ({ name: c.name, keys: c.keys, slots: c.keys.map(slotOf) })),
      [],
      `${spanning.length} of ${sent.length} commands span slots`,
    );
    assert.equal(sent.filter((c) => c.name === 'keys').length, 0, 'no KEYS');
  });
});
