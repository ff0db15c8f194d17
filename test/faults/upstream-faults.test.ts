/**
 * The services subgate depends on misbehaving, with real subgate processes: SMTP refusing (4xx, then
 * 5xx) and Stripe answering 429 and 500 and then stalling for 10 s. No notice is doubled, no event is
 * lost, and everything converges once the faults stop. Also what the workers get done while Stripe
 * answers 429 to 30 % of requests (Stripe requests per second, a figure, not asserted).
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  customerUpdated,
  expiredCardDecline,
  notDurable,
  putSubscribers,
  settleQueues,
  startFaultStack,
  waitUntilCurrent,
  type CustomerEvent,
  type FaultStack,
} from '../support/fault-stack.js';
import type { FloodEvent } from '../support/webhook-flood.js';
import { recordFigures } from '../support/fault-report.js';
import { waitFor } from '../support/redis.js';
import { createNoticeLedger } from '../../src/store/notice-ledger.js';
import { seededRandom } from '../../bench/lib/fixtures.js';
import type { Subscriber } from '../support/card-scenarios.js';

// A refresh opens with the customer's subscription list (the customer expanded into it): the faults land there.
const SUBSCRIPTION_LISTS = { method: 'GET', path: '/v1/subscriptions' };

/** Delivers every event `copies` times (each copy its own delivery) and waits until all are acknowledged. */
async function deliverAll(s: FaultStack, url: string, events: readonly CustomerEvent[], copies = 1): Promise<number> {
  const deliveries: FloodEvent[] = events.flatMap((e) => Array.from({ length: copies }, (_, n) => ({ id: `${e.id}#${n}`, delivery: e.delivery })));
  const flood = s.flood(deliveries, { targets: () => [url], concurrency: 16, keepAlive: true });
  await flood.done;
  await flood.stop();
  return deliveries.length;
}

/** The double now says something new about each customer (its user id), which subgate must catch up with. */
function moveUsers(s: FaultStack, customers: readonly Subscriber[], version: string): void {
  for (const c of customers) {
    const customer = s.stripe.getCustomer(c.customerId)!;
    s.stripe.putCustomer({ ...customer, metadata: { ...customer.metadata, user_id: `${customer.metadata.user_id}-${version}` } });
  }
}

describe('upstream faults', { timeout: 300_000 }, () => {
  let stack: FaultStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  test('SMTP refusing (4xx then 5xx), Stripe answering 429 and 500 then stalling 10 s: no notice doubled, no event lost, all converges', async () => {
    stack = await startFaultStack({ label: 'upstream', smtp: true });
    const s = stack;
    const smtp = s.smtp!;
    const customers = putSubscribers(s, 20);
    const api = await s.start('api');
    await s.start('worker');
    await deliverAll(s, api.url, customers.map((c) => customerUpdated(s, c.customerId)));
    await waitUntilCurrent(s, customers, performance.now());
    await settleQueues(s);

    moveUsers(s, customers, 'v2');
    smtp.refuseNext(5, 451);
    smtp.refuseNext(3, 550);
    // The 429s are served first, then the 500s (rules are consumed in the order they were set).
    s.stripe.failNext(15, { status: 429, match: SUBSCRIPTION_LISTS });
    s.stripe.failNext(15, { status: 500, match: SUBSCRIPTION_LISTS });
    const faultsFrom = performance.now();
    const events = customers.flatMap((c) => [expiredCardDecline(s, c.customerId, c.pmId).event, customerUpdated(s, c.customerId)]);
    const deliveries = await deliverAll(s, api.url, events, 3);

    // Once the 429s and 500s are spent, Stripe stalls: every request takes 10 s (the SDK gives up first).
    await waitFor(() => s.stripe.count((r) => r.status === 429 || r.status === 500) >= 30, { timeoutMs: 120_000, message: 'Stripe faults served' });
    s.stripe.setLatency(10_000);
    const stallFrom = Date.now();
    await waitFor(() => s.stripe.count((r) => r.at >= stallFrom) >= 3, { timeoutMs: 60_000, message: 'requests caught in the stall' });
    await sleep(10_000); // the fault: Stripe stalls this long
    s.stripe.setLatency(0);
    const faultsEndedAt = performance.now();

    const currentMs = await waitUntilCurrent(s, customers, faultsEndedAt, 180_000);
    await settleQueues(s, 180_000);
    const convergedMs = performance.now() - faultsEndedAt;

    assert.deepEqual(await notDurable(s, events), [], 'every event durable');
    assert.equal(await s.queues.stripeEvents.getFailedCount(), 0, 'no event failed');
    assert.equal(await s.queues.customerSync.getFailedCount(), 0, 'no refresh gave up');
    const mailsPer = customers.map((c) => smtp.messages.filter((m) => m.to.includes(c.email!)).length);
    assert.ok(mailsPer.every((n) => n <= 1), `a notice was doubled: ${mailsPer.join(',')}`);
    const counts = await createNoticeLedger({ redis: s.client, prefix: s.prefix }).counts();
    // Temporary refusals were retried and sent; permanent ones are recorded, never retried.
    assert.equal(counts['card_expired|rejected'], 3, JSON.stringify(counts));
    assert.equal(counts['card_expired|sent'], customers.length - 3, JSON.stringify(counts));
    assert.equal(mailsPer.filter((n) => n === 1).length, customers.length - 3);

    recordFigures({
      scenario: 'SMTP 4xx/5xx + Stripe 429/500 + 10 s stall',
      events: events.length,
      duplicates: deliveries - events.length,
      lost: 0,
      timings: { 'faults->stall end': faultsEndedAt - faultsFrom, 'stall end->all current': currentMs, 'stall end->all settled': convergedMs },
      notes: {
        'smtp 451/550': '5/3',
        'notices sent/rejected/doubled': `${counts['card_expired|sent']}/${counts['card_expired|rejected']}/0`,
        'stripe 429/500 served': `${s.stripe.count((r) => r.status === 429)}/${s.stripe.count((r) => r.status === 500)}`,
      },
    });
  });

  test('Stripe answering 429 to 30 % of requests: every customer converges (Stripe requests/s measured)', async () => {
    const RATE_LIMIT = 50;
    stack = await startFaultStack({ label: 'stripe-429', env: { STRIPE_API_RATE_LIMIT: String(RATE_LIMIT) } });
    const s = stack;
    const customers = putSubscribers(s, 60);
    const api = await s.start('api');
    await s.start('worker');
    const random = seededRandom(429);
    s.stripe.failNext(1_000_000, { status: 429, match: () => random() < 0.3 });
    const startedAt = performance.now();
    await deliverAll(s, api.url, customers.map((c) => customerUpdated(s, c.customerId)));
    const currentMs = await waitUntilCurrent(s, customers, startedAt, 240_000);
    s.stripe.clearFaults();
    await settleQueues(s);
    assert.equal(await s.queues.customerSync.getFailedCount(), 0, 'no refresh gave up');

    const times = s.stripe.requests.map((r) => r.at).sort((a, b) => a - b);
    const spanS = (times[times.length - 1]! - times[0]!) / 1000;
    let peak = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i]! - times[j]! >= 1000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    const served429 = s.stripe.count((r) => r.status === 429);
    recordFigures({
      scenario: 'Stripe 429 on 30 % of requests',
      events: customers.length,
      lost: 0,
      timings: { 'all current': currentMs },
      notes: {
        'stripe req/s': (times.length / spanS).toFixed(1),
        'ok req/s': ((times.length - served429) / spanS).toFixed(1),
        'peak in 1 s': peak,
        'limit/s': RATE_LIMIT,
        '429s': served429,
      },
    });
  });
});
