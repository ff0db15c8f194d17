/**
 * kill -9 of real subgate processes: the API mid-flood (every event acknowledged before the kill is
 * durable, and applied once a new API and the workers carry on), and a worker mid-job (a new worker
 * takes the stalled jobs over and every customer becomes current; the recovery time is measured).
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { customerUpdated, floodUntilAcked, notDurable, putSubscribers, settleQueues, startFaultStack, waitUntilCurrent, type FaultStack } from '../support/fault-stack.js';
import { recordFigures } from '../support/fault-report.js';
import { waitFor } from '../support/redis.js';

describe('kill -9', { timeout: 240_000 }, () => {
  let stack: FaultStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  test('the API process mid-flood: every event acknowledged before the kill is durable and applied; Stripe retries the rest', async () => {
    stack = await startFaultStack({ label: 'kill-api' });
    const s = stack;
    let api = await s.start('api', 'api-1');
    await s.start('worker');
    const { customers, events, flood } = await floodUntilAcked(s, () => api.url);

    const killedAt = performance.now();
    await api.kill9();
    const exitedAt = performance.now();
    const ackedAtKill = new Set(flood.ackedIds());
    // Requests the kill cut: written before the process was gone, failed without an answer.
    const cutByKill = [...flood.records.values()].filter((r) => r.attempts.some((a) => a.error && a.sentAt < exitedAt && a.endedAt >= killedAt)).length;
    assert.deepEqual(await notDurable(s, events.filter((e) => ackedAtKill.has(e.id))), [], 'an event acknowledged before the kill is not durable');

    api = await s.start('api', 'api-2');
    await flood.done;
    await flood.stop();
    const allAckedMs = performance.now() - killedAt;
    assert.deepEqual(await notDurable(s, events), [], 'every event durable once Stripe retried');
    const currentMs = await waitUntilCurrent(s, customers, killedAt);
    await settleQueues(s);
    assert.equal(await s.queues.stripeEvents.getJobCountByTypes('completed'), events.length, 'each event applied once, none failed');

    recordFigures({
      scenario: 'kill -9 API mid-flood',
      events: events.length,
      kills: 1,
      lost: 0,
      timings: { 'kill->all acked': allAckedMs, 'kill->all current': currentMs },
      notes: { 'acked before kill': ackedAtKill.size, 'requests cut by the kill': cutByKill },
    });
  });

  test('a worker process mid-job, then a new worker: every customer becomes current (recovery time measured)', async () => {
    stack = await startFaultStack({ label: 'kill-worker' });
    const s = stack;
    const customers = putSubscribers(s, 30);
    const api = await s.start('api');
    const worker = await s.start('worker', 'worker-1');
    s.stripe.setLatency(2000); // each refresh is in flight for seconds
    const events = customers.map((c) => customerUpdated(s, c.customerId));
    const flood = s.flood(events, { targets: () => [api.url], concurrency: 8, keepAlive: true });
    await flood.done;
    await flood.stop();
    await waitFor(async () => (await s.queues.customerSync.getActiveCount()) >= 4, { timeoutMs: 30_000, message: 'refreshes in flight' });
    const activeAtKill = await s.queues.customerSync.getActiveCount();

    await worker.kill9();
    const killedAt = performance.now();
    s.stripe.setLatency(0); // what is measured is the takeover, not Stripe's speed
    await s.start('worker', 'worker-2');
    const recoveredMs = await waitUntilCurrent(s, customers, killedAt, 180_000);

    await settleQueues(s);
    assert.equal(await s.queues.customerSync.getFailedCount(), 0, 'no refresh failed (a stalled job is retried, not dropped)');
    assert.equal(await s.queues.stripeEvents.getJobCountByTypes('completed'), events.length);
    recordFigures({
      scenario: 'kill -9 worker mid-job',
      events: events.length,
      kills: 1,
      lost: 0,
      timings: { 'kill->last customer current': recoveredMs },
      notes: { 'jobs active at kill': activeAtKill },
    });
  });
});
