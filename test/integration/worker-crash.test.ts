import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { seedReader } from '../support/readers.js';
import { testRedisUrl, waitFor } from '../support/redis.js';
import { startStallingWorker } from '../support/stalling-worker.js';

describe('when a worker is killed -9 in the middle of a refresh', () => {
  let h: Harness;

  before(async () => {
    h = await createHarness({ label: 'worker-crash', workers: false });
  });
  after(async () => {
    await h.close();
  });

  test('another worker takes the refresh over, and the customer becomes current', async () => {
    const { customer } = seedReader(h.stripe, { nowSeconds: Math.floor(h.clock.now() / 1000) });
    const crashing = startStallingWorker(testRedisUrl(), h.prefix);
    await h.worker.producers.refresh(customer.id, 'test', 'routine');
    const [job] = await h.queues.customerSync.getJobs(['delayed', 'waiting', 'prioritized', 'active']);
    assert.ok(job, 'the refresh is queued');
    assert.equal(await crashing.started, customer.id);
    await crashing.kill();

    h.startWorkers();
    // Generous next to the 15 s worst case of the tuned lock and check; BullMQ's defaults need 30-60 s.
    await waitFor(async () => (await h.queues.customerSync.getJobState(job.id!)) === 'completed', {
      timeoutMs: 28_000,
      intervalMs: 200,
      message: 'the refresh the dead worker held to complete elsewhere',
    });
    const done = await h.queues.customerSync.getJob(job.id!);
    assert.equal(done?.stalledCounter, 1, 'recovered through the stalled-job check');
    assert.deepEqual(done?.returnvalue, { customerId: customer.id, outcome: 'written' });
    assert.equal((await h.entitlement({ customer: customer.id })).body.status, 'active');
  });
});
