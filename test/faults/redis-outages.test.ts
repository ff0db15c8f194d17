/**
 * Redis going away under a webhook flood, with real subgate processes: killed -9 and restarted from its
 * append-only file, and frozen for 10 s (SIGSTOP/SIGCONT). Webhooks meanwhile get 503 (never a 2xx that
 * is not durable, never a 500); Stripe retries them, so in the end every event of the flood is durable
 * exactly once and every customer is current.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { floodUntilAcked, notDurable, settleQueues, startFaultStack, waitUntilCurrent, type CustomerEvent, type FaultStack } from '../support/fault-stack.js';
import type { Flood } from '../support/webhook-flood.js';
import { recordFigures } from '../support/fault-report.js';
import { waitFor } from '../support/redis.js';

const OUTAGE_STATUSES = new Set([200, 503]);

/** Statuses answered from `since` on, with how many of each. */
function statusesSince(flood: Flood, since: number): Map<number, number> {
  const seen = new Map<number, number>();
  for (const { attempt } of flood.answersAfter(since)) seen.set(attempt.status!, (seen.get(attempt.status!) ?? 0) + 1);
  return seen;
}

/** For each 503 to a request sent once Redis was already gone: how long it took to come. */
function timesTo503(flood: Flood, since: number): number[] {
  return flood
    .answersAfter(since)
    .filter((a) => a.attempt.status === 503 && a.attempt.sentAt >= since)
    .map((a) => a.attempt.endedAt - a.attempt.sentAt);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Every event durable once, each applied by exactly one completed stripe-events job. */
async function assertEveryEventOnce(s: FaultStack, events: readonly CustomerEvent[]): Promise<void> {
  await settleQueues(s); // jobs running when Redis went away finish (or are taken over) first
  assert.deepEqual(await notDurable(s, events), [], 'every event of the flood is durable');
  const counts = await s.queues.stripeEvents.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
  assert.deepEqual(counts, { completed: events.length, failed: 0, waiting: 0, active: 0, delayed: 0 }, 'one completed job per event');
}

describe('Redis outages', { timeout: 240_000 }, () => {
  let stack: FaultStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  test('Redis killed -9 and restarted from its AOF mid-flood: nothing acknowledged is lost, the outage is answered 503', async () => {
    stack = await startFaultStack({ label: 'redis-kill', appendOnly: true });
    const s = stack;
    const api = await s.start('api');
    await s.start('worker');
    const { customers, events, flood } = await floodUntilAcked(s, () => api.url);

    const crashedAt = performance.now();
    await s.redis.crash();
    const ackedAtCrash = new Set(flood.ackedIds());
    // Down until Stripe has been told to come back later a few dozen times.
    await waitFor(() => (statusesSince(flood, crashedAt).get(503) ?? 0) >= 30, { timeoutMs: 60_000, message: '503s while Redis is down' });
    const during = statusesSince(flood, crashedAt);
    const to503 = timesTo503(flood, crashedAt);
    await s.redis.restart({ keepData: true });
    const restartedAt = performance.now();

    assert.deepEqual(await notDurable(s, events.filter((e) => ackedAtCrash.has(e.id))), [], 'acknowledged before the crash, lost by it');
    await flood.done;
    await flood.stop();
    const allAckedMs = performance.now() - restartedAt;
    const currentMs = await waitUntilCurrent(s, customers, restartedAt);
    assert.deepEqual([...during.keys()].filter((status) => !OUTAGE_STATUSES.has(status)), [], `statuses during the outage: ${JSON.stringify([...during])}`);
    assert.ok(api.running, 'the API survived the outage');
    await assertEveryEventOnce(s, events);

    recordFigures({
      scenario: 'Redis kill -9 + restart (AOF) mid-flood',
      events: events.length,
      kills: 1,
      lost: 0,
      timings: { 'time to a 503 (median)': median(to503), 'restart->all acked': allAckedMs, 'restart->all current': currentMs },
      notes: { 'acked before crash': ackedAtCrash.size, '503 while down': during.get(503) ?? 0, retries: flood.attempts() - events.length },
    });
  });

  test('Redis frozen 10 s (SIGSTOP): webhooks get 503, nothing is lost, work resumes after SIGCONT', async () => {
    stack = await startFaultStack({ label: 'redis-stop' });
    const s = stack;
    const api = await s.start('api');
    await s.start('worker');
    const { customers, events, flood } = await floodUntilAcked(s, () => api.url);

    const stoppedAt = performance.now();
    s.redis.pause();
    const ackedAtStop = new Set(flood.ackedIds());
    await sleep(10_000); // the fault: Redis stays frozen this long
    const during = statusesSince(flood, stoppedAt);
    const first503 = timesTo503(flood, stoppedAt);
    s.redis.resume();
    const resumedAt = performance.now();

    await flood.done;
    await flood.stop();
    const allAckedMs = performance.now() - resumedAt;
    const currentMs = await waitUntilCurrent(s, customers, resumedAt);
    assert.ok(first503.length > 0, 'a webhook sent while Redis was frozen got a 503');
    assert.deepEqual([...during.keys()].filter((status) => !OUTAGE_STATUSES.has(status)), [], `statuses while frozen: ${JSON.stringify([...during])}`);
    assert.deepEqual(await notDurable(s, events.filter((e) => ackedAtStop.has(e.id))), []);
    await assertEveryEventOnce(s, events);

    recordFigures({
      scenario: 'Redis SIGSTOP 10 s mid-flood',
      events: events.length,
      lost: 0,
      timings: {
        'time to a 503 (median)': median(first503),
        'time to a 503 (max)': Math.max(...first503),
        'SIGCONT->all acked': allAckedMs,
        'SIGCONT->all current': currentMs,
      },
      notes: { '503 while frozen': during.get(503) ?? 0, 'acked while frozen': during.get(200) ?? 0 },
    });
  });
});
