/**
 * A 20-fold duplicate storm over two API processes and two worker processes: each event is delivered
 * twenty times at once, round-robin across the APIs. Every event is accepted once (one ledger entry,
 * one job, nineteen duplicates) and every due notice goes out exactly once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { customerUpdated, expiredCardDecline, notDurable, putSubscribers, settleQueues, startFaultStack, waitUntilCurrent, type CustomerEvent, type FaultStack } from '../support/fault-stack.js';
import type { FloodEvent } from '../support/webhook-flood.js';
import { recordFigures } from '../support/fault-report.js';
import type { SubgateProcess } from '../support/processes.js';

const FOLD = 20;
const CUSTOMERS = 20;

describe('duplicate storm', { timeout: 240_000 }, () => {
  let stack: FaultStack;
  let apis: SubgateProcess[];
  before(async () => {
    stack = await startFaultStack({ label: 'dup-storm', smtp: true });
    apis = [await stack.start('api', 'api-1'), await stack.start('api', 'api-2')];
    await stack.start('worker', 'worker-1');
    await stack.start('worker', 'worker-2');
  });
  after(() => stack.close());

  test('20 copies of every event over two APIs and two workers: one ledger entry and one job per event, one notice per due notice', async () => {
    const s = stack;
    const customers = putSubscribers(s, CUSTOMERS);
    // Known to subgate first, so a decline has a projection to flag.
    const warmup = s.flood(customers.map((c) => customerUpdated(s, c.customerId)), { targets: () => apis.map((a) => a.url), concurrency: 8, keepAlive: true });
    await warmup.done;
    await warmup.stop();
    await waitUntilCurrent(s, customers, performance.now());
    await settleQueues(s);

    // Per customer: the decline, a second event about the same decline, and a customer.updated.
    const events: CustomerEvent[] = customers.flatMap((c) => {
      const decline = expiredCardDecline(s, c.customerId, c.pmId);
      return [decline.event, decline.again(), customerUpdated(s, c.customerId)];
    });
    // Each copy is its own delivery (Stripe's retries and redeliveries are separate requests); the twenty
    // copies of an event are side by side, so they are in flight at the same time on both APIs.
    const copies: FloodEvent[] = events.flatMap((e) => Array.from({ length: FOLD }, (_, n) => ({ id: `${e.id}#${n}`, delivery: e.delivery })));
    const flood = s.flood(copies, { targets: () => apis.map((a) => a.url), concurrency: 32, keepAlive: true });
    await flood.done;
    await flood.stop();
    await settleQueues(s);

    // Exactly one copy of each event was accepted; the other nineteen were acknowledged as duplicates.
    const accepted = new Map<string, number>();
    for (const record of flood.records.values()) {
      const body = JSON.parse(record.acked!.body ?? '{}') as { duplicate?: boolean };
      if (!body.duplicate) accepted.set(record.id.split('#')[0]!, (accepted.get(record.id.split('#')[0]!) ?? 0) + 1);
    }
    assert.deepEqual(
      events.filter((e) => accepted.get(e.id) !== 1).map((e) => `${e.id}: ${accepted.get(e.id) ?? 0}`),
      [],
      'each event accepted exactly once',
    );
    assert.deepEqual(await notDurable(s, events), []);
    const jobs = await s.queues.stripeEvents.getJobCounts('completed', 'failed');
    assert.deepEqual(jobs, { completed: CUSTOMERS + events.length, failed: 0 }, 'one job per event (warm-up included)');

    // One card_expired notice per customer, no more.
    const expiredMails = s.smtp!.messages.filter((m) => /has expired/.test(m.subject));
    const perCustomer = customers.map((c) => expiredMails.filter((m) => m.to.includes(c.email!)).length);
    assert.deepEqual(perCustomer, customers.map(() => 1), 'one card_expired notice per customer');
    assert.equal(s.smtp!.messages.length, CUSTOMERS, `no other notice: ${s.smtp!.messages.map((m) => m.subject).join(' | ')}`);

    recordFigures({
      scenario: '20-fold duplicate storm, 2 APIs + 2 workers',
      events: events.length,
      duplicates: copies.length - events.length,
      lost: 0,
      notes: { deliveries: copies.length, 'notices due': CUSTOMERS, 'notices sent': s.smtp!.messages.length },
    });
  });
});
