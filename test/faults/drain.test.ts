/**
 * SIGTERM mid-flood, against the real entry points: the draining process answers only what was in
 * flight (each answer closing its connection), closes its workers, queues and Redis connections, logs
 * 'shutdown complete' and exits 0; every event it acknowledged is durable, and Stripe's retries of the
 * rest are taken by the next process.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { customerUpdated, floodUntilAcked, notCurrent, notDurable, putSubscribers, settleQueues, startFaultStack, waitUntilCurrent, type FaultStack } from '../support/fault-stack.js';
import { exitReport, type SubgateProcess } from '../support/processes.js';
import { recordFigures } from '../support/fault-report.js';
import { waitFor } from '../support/redis.js';

const LANES = 16;

describe('drain on SIGTERM', { timeout: 180_000 }, () => {
  let stack: FaultStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  /**
   * Floods `first`, sends it SIGTERM once some events are acknowledged, checks the drain, then points
   * the flood (Stripe retrying) at a fresh process until every event is acknowledged.
   */
  async function sigtermMidFlood(s: FaultStack, first: SubgateProcess, keepAlive: boolean, label: string) {
    let target = first.url;
    const { customers, events, flood } = await floodUntilAcked(s, () => target, { acked: 300, lanes: LANES, keepAlive });

    const signalledAt = performance.now();
    first.signal('SIGTERM');
    const draining = await first.waitForLog('http draining');
    const exit = await exitReport(first);
    const stoppedMs = performance.now() - signalledAt;
    assert.equal(exit.code, 0, `exit code\n${first.tail()}`);
    assert.deepEqual(exit.shutdown && { cut: exit.shutdown.cut, failed: exit.shutdown.failed }, { cut: [], failed: [] }, 'shutdown complete, nothing cut');

    // Only what was in flight was answered: no request written after the drain began got an answer,
    // and at most one answer per connection came after it.
    const afterDrain = flood.answersAfter(draining.at);
    const sentAfter = afterDrain.filter((a) => a.attempt.sentAt > draining.at);
    assert.deepEqual(sentAfter.map((a) => `${a.id} ${a.attempt.status}`), [], 'requests sent after the drain began were answered');
    assert.ok(afterDrain.length <= LANES, `${afterDrain.length} answers after the drain began, with ${LANES} connections`);
    const drained = first.logsWith('http drained')[0]?.json;
    assert.ok(drained, `the drain was logged\n${first.tail()}`);

    const ackedBeforeExit = new Set(flood.ackedIds());
    assert.deepEqual(await notDurable(s, events.filter((e) => ackedBeforeExit.has(e.id))), [], 'every acknowledged event is durable');

    // Stripe retries the rest against the next process; all of them land, once.
    const next = await s.start(first.kind, `${first.kind}-2`);
    target = next.url;
    if (first.kind === 'api') await s.start('worker', 'worker-2');
    await flood.done;
    await flood.stop();
    assert.deepEqual(await notDurable(s, events), [], 'every event durable after the retries');
    await waitUntilCurrent(s, customers, performance.now());
    await settleQueues(s);
    const jobs = await s.queues.stripeEvents.getJobCountByTypes('completed', 'failed');
    assert.equal(jobs, events.length, 'one stripe-events job per event');

    recordFigures({
      scenario: label,
      events: events.length,
      kills: 0,
      lost: 0,
      timings: { 'SIGTERM->exit': stoppedMs },
      notes: {
        'acked before exit': ackedBeforeExit.size,
        'answered after drain began': afterDrain.length,
        'in flight (server)': Number(drained.inFlight),
        retries: flood.attempts() - events.length,
      },
    });
  }

  test('all-in-one (npm start), keep-alive client: in-flight answers close their connections, exit 0, nothing acknowledged lost', async () => {
    stack = await startFaultStack({ label: 'drain-keepalive' });
    const first = await stack.start('all', 'all-1');
    await sigtermMidFlood(stack, first, true, 'SIGTERM mid-flood, keep-alive (npm start)');
  });

  test('API process, a connection per delivery: exit 0, nothing acknowledged lost', async () => {
    stack = await startFaultStack({ label: 'drain-per-delivery' });
    const first = await stack.start('api', 'api-1');
    await stack.start('worker', 'worker-1');
    await sigtermMidFlood(stack, first, false, 'SIGTERM mid-flood, connection per delivery (api)');
  });

  test('worker process mid-job (npm run start:worker): active refreshes finish, exit 0, the next worker takes the rest', async () => {
    stack = await startFaultStack({ label: 'drain-worker' });
    const s = stack;
    const customers = putSubscribers(s, 30);
    await s.start('api');
    const worker = await s.start('worker', 'worker-1');
    s.stripe.setLatency(1500); // refreshes in flight when the signal comes
    const events = customers.map((c) => customerUpdated(s, c.customerId));
    const flood = s.flood(events, { targets: () => [s.processes[0]!.url], concurrency: 8, keepAlive: true });
    await flood.done;
    await waitFor(async () => (await s.queues.customerSync.getActiveCount()) > 0, { timeoutMs: 30_000, message: 'a refresh in flight' });
    const inFlight = await s.queues.customerSync.getActiveCount();

    const signalledAt = performance.now();
    worker.signal('SIGTERM');
    const exit = await exitReport(worker);
    const stoppedMs = performance.now() - signalledAt;
    assert.equal(exit.code, 0, worker.tail());
    assert.deepEqual(exit.shutdown && { cut: exit.shutdown.cut, failed: exit.shutdown.failed }, { cut: [], failed: [] });
    assert.equal(await s.queues.customerSync.getActiveCount(), 0, 'no refresh left active (none cut, none to stall)');
    const doneByFirst = customers.length - (await notCurrent(s, customers)).length;
    assert.ok(doneByFirst >= inFlight, `the ${inFlight} refreshes in flight finished before the exit (${doneByFirst} current)`);

    s.stripe.setLatency(0);
    await s.start('worker', 'worker-2');
    const recoveredMs = await waitUntilCurrent(s, customers, performance.now());
    await flood.stop();
    recordFigures({
      scenario: 'SIGTERM worker mid-job (start:worker)',
      events: events.length,
      lost: 0,
      timings: { 'SIGTERM->exit': stoppedMs, 'next worker->all current': recoveredMs },
      notes: { 'refreshes in flight': inFlight },
    });
  });

  test('a request stuck mid-body is cut at the drain limit, and the process still closes everything and exits 0', async () => {
    stack = await startFaultStack({ label: 'drain-stuck', env: { SHUTDOWN_TIMEOUT_MS: '5000' } });
    const api = await stack.start('api');
    const port = Number(new URL(api.url).port);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const ended = new Promise<string>((resolve) => {
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('close', () => resolve(answer));
    });
    // Headers and half the promised body, then nothing: a stuck client.
    socket.write('POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nStripe-Signature: t=1,v1=00\r\n\r\n{"id":');
    await waitFor(() => socket.writableLength === 0, { message: 'request written' });
    await new Promise((resolve) => setImmediate(resolve));

    api.signal('SIGTERM');
    const exit = await exitReport(api);
    assert.equal(exit.code, 0, api.tail());
    const cut = api.logsWith('http drain limit reached; unanswered requests were cut')[0]?.json;
    assert.equal(cut?.cut, 1, api.tail());
    assert.deepEqual(exit.shutdown && { cut: exit.shutdown.cut, failed: exit.shutdown.failed }, { cut: [], failed: [] });
    assert.equal(await ended, '', 'the stuck request got no answer');
    recordFigures({ scenario: 'SIGTERM with a stuck request', events: 0, lost: 0, notes: { 'requests cut': 1 } });
  });
});
