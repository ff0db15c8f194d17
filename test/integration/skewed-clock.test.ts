/**
 * The read-time guard across processes whose host clocks disagree: each orders its Stripe reads by Redis's
 * clock (TIME of the node holding the customer) taken when the read begins, so a worker whose clock runs
 * minutes behind or ahead neither loses its newer read nor lets its older one win.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { putSubscriber } from '../support/card-scenarios.js';
import { createTestClock } from '../support/test-clock.js';
import { createSilentLogger } from '../../src/logger.js';
import { buildServices, type Services } from '../../src/composition.js';

const MINUTES = 60_000;

describe('workers whose clocks are skewed by minutes', () => {
  let h: Harness;
  let behind: Services;
  let ahead: Services;
  before(async () => {
    h = await createHarness({ label: 'skew', workers: false });
    // Two more worker processes on the same Redis, their clocks 10 minutes behind and ahead.
    behind = buildServices(h.config, { redis: h.workerRedis, clock: createTestClock(Date.now() - 10 * MINUTES), logger: createSilentLogger() });
    ahead = buildServices(h.config, { redis: h.workerRedis, clock: createTestClock(Date.now() + 10 * MINUTES), logger: createSilentLogger() });
  });
  after(async () => {
    await Promise.allSettled([behind.close(), ahead.close()]);
    await h.close();
  });

  const moveUser = (customerId: string, user: string) => {
    const customer = h.stripe.getCustomer(customerId)!;
    h.stripe.putCustomer({ ...customer, metadata: { ...customer.metadata, user_id: user } });
  };

  test('a newer read by a worker 10 minutes behind is written over an older one', async () => {
    const { customerId } = putSubscriber(h.stripe, Date.now(), { exp_month: 12, exp_year: 2031, user: 'first-owner' });
    assert.equal(await h.syncCustomer(customerId), 'written');
    moveUser(customerId, 'second-owner');
    assert.equal(await behind.syncCustomer(customerId), 'written', 'the later read wins although its host clock says it is earlier');
    assert.equal((await h.store.read(customerId))?.user, 'second-owner');
  });

  test('after a worker 10 minutes ahead wrote, an accurate worker’s newer read still wins', async () => {
    const { customerId } = putSubscriber(h.stripe, Date.now(), { exp_month: 12, exp_year: 2031, user: 'first-owner' });
    assert.equal(await ahead.syncCustomer(customerId), 'written');
    moveUser(customerId, 'second-owner');
    assert.equal(await h.syncCustomer(customerId), 'written');
    assert.equal((await h.store.read(customerId))?.user, 'second-owner');
  });

  test('a read that began before a newer one was written is refused, whatever the clocks say', async () => {
    const { customerId } = putSubscriber(h.stripe, Date.now(), { exp_month: 12, exp_year: 2031, user: 'first-owner' });
    // The ahead worker begins a read; before it writes, the behind worker reads and writes a newer state.
    const readsBefore = await h.store.readInstant(customerId);
    moveUser(customerId, 'second-owner');
    assert.equal(await behind.syncCustomer(customerId), 'written');
    const older = { ...(await h.store.read(customerId))!, user: 'first-owner', read_at: Date.now() + 10 * MINUTES };
    assert.equal(await ahead.store.write(older, readsBefore), 'stale', 'ordered by when the read began on the shared clock, not by read_at');
    assert.equal((await h.store.read(customerId))?.user, 'second-owner');
  });
});
