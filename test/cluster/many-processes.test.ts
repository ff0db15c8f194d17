/**
 * Two API and three worker processes (the entry points, configured by their environment) on one Redis and
 * on the 3-master cluster: a duplicate storm spread over both APIs still gives one notice per due notice
 * and flags each expired card once; every change reaches a feed listener on each API exactly once, in the
 * stream's order; the card-expiry sweep, scheduled every 2 s by all three workers, runs once per schedule.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAULT_API_TOKEN, customerUpdated, expiredCardDecline, putSubscribers, settleQueues, startFaultStack, waitUntilCurrent, type CustomerEvent, type FaultStack } from '../support/fault-stack.js';
import { openStream } from '../support/feed-streams.js';
import { recordFigures } from '../support/fault-report.js';
import { testClusterNodes, waitFor } from '../support/redis.js';
import type { SubgateProcess } from '../support/processes.js';
import type { FloodEvent } from '../support/webhook-flood.js';
import { createSseParser, type SseMessage } from '@subgate/client';
import { entitlementStreamKeys } from '../../src/store/entitlement-feed.js';
import { JOB } from '../../src/queues.js';

const CUSTOMERS = 10;
const FOLD = 10;

/** Collects every message of an open SSE stream until stop(). */
function listen(res: IncomingMessage): { messages: SseMessage[]; stop(): void } {
  const messages: SseMessage[] = [];
  const parser = createSseParser((m) => messages.push(m));
  res.on('data', (chunk: string) => parser.push(chunk));
  res.on('error', () => undefined);
  return { messages, stop: () => res.destroy() };
}

for (const topology of ['single', 'cluster'] as const) {
  const skip = topology === 'cluster' && !testClusterNodes() ? 'the cluster is started by npm run test:cluster' : false;

  describe(`2 API + 3 worker processes on ${topology === 'single' ? 'one Redis' : 'a 3-master cluster'}`, { skip, timeout: 240_000 }, () => {
    let stack: FaultStack;
    let apis: SubgateProcess[];
    let workers: SubgateProcess[];
    before(async () => {
      stack = await startFaultStack({ label: `many-${topology}`, smtp: true, topology, env: { CARD_EXPIRY_SWEEP_CRON: '*/2 * * * * *' } });
      apis = [await stack.start('api', 'api-1'), await stack.start('api', 'api-2')];
      workers = [await stack.start('worker', 'worker-1'), await stack.start('worker', 'worker-2'), await stack.start('worker', 'worker-3')];
    });
    after(() => stack?.close());

    test('duplicates over both APIs: one notice per due notice, each card flagged once, every change once per feed listener', async () => {
      const s = stack;
      const listeners = await Promise.all(apis.map(async (api) => listen(await openStream(api.url, { token: FAULT_API_TOKEN }))));
      try {
        const customers = putSubscribers(s, CUSTOMERS);
        const warmup = s.flood(customers.map((c) => customerUpdated(s, c.customerId)), { targets: () => apis.map((a) => a.url), concurrency: 8, keepAlive: true });
        await warmup.done;
        await warmup.stop();
        await waitUntilCurrent(s, customers, performance.now());
        await settleQueues(s);

        const events: CustomerEvent[] = customers.flatMap((c) => {
          const decline = expiredCardDecline(s, c.customerId, c.pmId);
          return [decline.event, decline.again()];
        });
        const copies: FloodEvent[] = events.flatMap((e) => Array.from({ length: FOLD }, (_, n) => ({ id: `${e.id}#${n}`, delivery: e.delivery })));
        const flood = s.flood(copies, { targets: () => apis.map((a) => a.url), concurrency: 24, keepAlive: true });
        await flood.done;
        await flood.stop();
        await settleQueues(s);

        const expiredMails = s.smtp!.messages.filter((m) => /has expired/.test(m.subject));
        assert.deepEqual(customers.map((c) => expiredMails.filter((m) => m.to.includes(c.email!)).length), customers.map(() => 1), 'one card_expired notice per customer');
        const flagged = workers.flatMap((w) => w.logsWith('card flagged expired')).map((line) => String(line.json?.customerId));
        assert.deepEqual(customers.map((c) => flagged.filter((id) => id === c.customerId).length), customers.map(() => 1), 'each card flagged once, by one of three workers');

        // The feed: what the stream holds, each listener got once, in the stream's order.
        const stream = entitlementStreamKeys(s.prefix).stream;
        const inStream = (await s.client.xrange(stream, '-', '+')).map(([id]) => id);
        assert.ok(inStream.length >= CUSTOMERS * 2, `changes in the stream: ${inStream.length}`);
        for (const [n, listener] of listeners.entries()) {
          await waitFor(() => listener.messages.filter((m) => m.event === 'change').length >= inStream.length, { timeoutMs: 15_000, message: `listener on api-${n + 1} caught up` });
          const got = listener.messages.filter((m) => m.event === 'change').map((m) => m.lastEventId);
          assert.deepEqual(got, inStream, `listener on api-${n + 1}: every change once, in order`);
        }
        recordFigures({
          scenario: `duplicates over 2 APIs + 3 workers (${topology})`,
          events: events.length,
          duplicates: copies.length - events.length,
          lost: 0,
          notes: { 'notices sent': expiredMails.length, 'feed changes per listener': inStream.length },
        });
      } finally {
        for (const listener of listeners) listener.stop();
      }
    });

    test('the sweep, scheduled every 2 s by three workers, runs once per schedule', async () => {
      const s = stack;
      await sleep(7000);
      const runs = (await s.queues.cardExpiry.getJobs(['completed', 'active'])).filter((job) => job.name === JOB.expirySweep);
      const done = workers.flatMap((w) => w.logsWith('expiry sweep done'));
      assert.ok(runs.length >= 2, `sweeps run: ${runs.length}`);
      assert.equal(new Set(runs.map((job) => job.id)).size, runs.length, 'one job per scheduled instant');
      const finished = runs.filter((job) => job.finishedOn).length;
      // A job runs a second time only when BullMQ took it for stalled (its worker's event loop held past the
      // lock, which an overloaded machine can do) or retried it: at-least-once by design, and the sweep is
      // safe to run twice. Any other second run is a scheduling bug.
      const rerunsAllowed = runs.reduce((n, job) => n + (job.stalledCounter ?? 0) + Math.max(0, job.attemptsMade - 1), 0);
      assert.ok(
        done.length >= finished && done.length <= runs.length + rerunsAllowed,
        `sweep runs logged ${done.length}, jobs ${runs.length} (${finished} finished, ${rerunsAllowed} stalled or retried): none ran twice otherwise`,
      );
    });
  });
}
