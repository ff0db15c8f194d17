import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import Stripe from 'stripe';
import { BUDGET_HEADROOM_MS, createStripeRequestBudget, type StripeRequestBudget } from '../../src/store/stripe-request-budget.js';
import { createBudgetedHttpClient, isStripeBudgetExhausted } from '../../src/adapters/stripe-http-client.js';
import { cleanupPrefix, createTestRedis, uniquePrefix } from '../support/redis.js';
import { createTestClock, type TestClock } from '../support/test-clock.js';
import { maxInAnyWindow } from '../support/request-windows.js';
import { startStripeDouble, type StripeDouble } from '../support/stripe-double.js';
import { customerFixture } from '../fixtures/stripe-objects.js';

const UNBOUNDED = Number.MAX_SAFE_INTEGER;

describe('the Stripe request budget (one schedule in Redis for every process)', () => {
  let redis: Redis;
  let other: Redis;
  const prefixes: string[] = [];
  const budgetFor = (requestsPerSecond: number, clock: TestClock, connection: Redis = redis, prefix = uniquePrefix('budget')) => {
    prefixes.push(prefix);
    return createStripeRequestBudget({ redis: connection, prefix, requestsPerSecond, clock });
  };
  /** The instant each caller's slot comes: when it asked, plus its wait. */
  const slotsOf = async (budget: StripeRequestBudget, clock: TestClock, callers: number) =>
    Promise.all(Array.from({ length: callers }, async () => clock.now() + (await budget.reserve(UNBOUNDED))!));

  before(() => {
    redis = createTestRedis();
    other = createTestRedis();
  });
  after(async () => {
    for (const prefix of prefixes) await cleanupPrefix(redis, prefix);
    await Promise.all([redis.quit(), other.quit()]);
  });

  test('a burst at a window edge after an idle spell is spread out: no second holds more than the rate', async () => {
    const clock = createTestClock(1_000_000);
    const budget = budgetFor(10, clock);
    // The last instant of one second, then the first of the next: a fixed window would let 2 x 10 through.
    clock.set(1_000_999);
    const before = await slotsOf(budget, clock, 30);
    clock.set(1_001_000);
    const afterEdge = await slotsOf(budget, clock, 30);
    const slots = [...before, ...afterEdge].sort((a, b) => a - b);

    assert.equal(slots[0], 1_000_999, 'the first request of an idle budget goes at once');
    assert.ok(maxInAnyWindow(slots) <= 10, `max in a second: ${maxInAnyWindow(slots)}`);
    const interval = (1000 + BUDGET_HEADROOM_MS) / 10;
    for (let i = 1; i < slots.length; i++) assert.ok(Math.abs(slots[i]! - slots[i - 1]! - interval) < 0.01, `gap ${slots[i]! - slots[i - 1]!}`);
  });

  test('callers on several connections (processes) share one schedule', async () => {
    const clock = createTestClock(5_000_000);
    const prefix = uniquePrefix('budget-shared');
    const first = budgetFor(25, clock, redis, prefix);
    const second = budgetFor(25, clock, other, prefix);
    const slots: number[] = [];
    for (let round = 0; round < 8; round++) {
      slots.push(...(await Promise.all([slotsOf(first, clock, 10), slotsOf(second, clock, 10)])).flat());
      clock.advance(170);
    }
    assert.equal(new Set(slots).size, slots.length, 'no slot given twice');
    assert.ok(maxInAnyWindow(slots) <= 25, `max in a second: ${maxInAnyWindow(slots)}`);
  });

  test('an idle budget saves nothing up: after a quiet minute the next burst is spaced from its start', async () => {
    const clock = createTestClock(9_000_000);
    const budget = budgetFor(5, clock);
    await slotsOf(budget, clock, 3);
    clock.advance(60_000);
    const slots = await slotsOf(budget, clock, 6);
    assert.deepEqual(
      slots.sort((a, b) => a - b).map((slot) => slot - clock.now()),
      [0, 220, 440, 660, 880, 1100],
    );
  });

  test('a slot further away than the caller will wait is not taken, and the schedule stays as it was', async () => {
    const clock = createTestClock(12_000_000);
    const budget = budgetFor(10, clock);
    const waits = [];
    for (let i = 0; i < 6; i++) waits.push(await budget.reserve(500));
    assert.deepEqual(waits, [0, 110, 220, 330, 440, null]);
    assert.equal(await budget.reserve(UNBOUNDED), 550);
  });

  test("without a clock it keeps Redis's time, and the key expires once the schedule is idle", async () => {
    const prefix = uniquePrefix('budget-redis-time');
    prefixes.push(prefix);
    const budget = createStripeRequestBudget({ redis, prefix, requestsPerSecond: 2 });
    assert.equal(await budget.reserve(UNBOUNDED), 0);
    const wait = (await budget.reserve(UNBOUNDED))!;
    assert.ok(wait > 0 && wait <= 550, `second wait ${wait}`);
    const ttl = await redis.pttl(`${prefix}:stripe-budget`);
    assert.ok(ttl > 0 && ttl <= 550 * 2 + 1000, `ttl ${ttl}`);
  });
});

describe('the SDK sending through the budget', () => {
  let redis: Redis;
  let double: StripeDouble;
  const prefixes: string[] = [];
  const budgetAt = (requestsPerSecond: number) => {
    const prefix = uniquePrefix('budgeted-sdk');
    prefixes.push(prefix);
    return createStripeRequestBudget({ redis, prefix, requestsPerSecond });
  };
  /** Counts the slots asked of a real budget. */
  const counting = (budget: StripeRequestBudget) => {
    const counted = { asked: 0, budget: { ...budget, reserve: (ms: number) => (counted.asked++, budget.reserve(ms)) } };
    return counted;
  };
  const sdk = (httpClient: Stripe.HttpClient, maxNetworkRetries = 0) =>
    new Stripe('sk_test_budget', { host: '127.0.0.1', port: double.port, protocol: 'http', telemetry: false, maxNetworkRetries, httpClient });

  before(async () => {
    redis = createTestRedis();
    double = await startStripeDouble();
  });
  after(async () => {
    for (const prefix of prefixes) await cleanupPrefix(redis, prefix);
    await Promise.all([redis.quit(), double.close()]);
  });

  test("the SDK's own retries take a slot each", async () => {
    const customer = double.putCustomer(customerFixture());
    double.resetRequests();
    double.failNext(2, { status: 500, shouldRetry: true });
    const spy = counting(budgetAt(1000));
    const retrieved = await sdk(createBudgetedHttpClient({ budget: spy.budget }), 2).customers.retrieve(customer.id);
    assert.equal(retrieved.id, customer.id);
    assert.equal(double.requests.length, 3);
    assert.equal(spy.asked, 3);
  });

  test('a request with no slot within the bound fails as a budget refusal and is never sent', async () => {
    const customer = double.putCustomer(customerFixture());
    double.resetRequests();
    const client = sdk(createBudgetedHttpClient({ budget: budgetAt(1), maxWaitMs: 200 }));
    const results = await Promise.allSettled([0, 1, 2].map(() => client.customers.retrieve(customer.id)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(refused.length, 2);
    assert.ok(refused.every((r) => isStripeBudgetExhausted(r.reason)), String(refused[0]?.reason));
    assert.equal(double.requests.length, 1);
  });

  test('a request woken well after its slot (a stalled event loop) takes a new slot instead of crowding the next', async () => {
    const customer = double.putCustomer(customerFixture());
    double.resetRequests();
    const clock = createTestClock(0);
    const real = budgetAt(100);
    await real.reserve(UNBOUNDED); // someone else's slot: this request's comes one interval later
    let stalls = 1;
    const spy = counting({
      ...real,
      reserve: async (ms) => {
        const wait = await real.reserve(ms);
        // The event loop "stalls" while the request sleeps towards its slot.
        if (stalls-- > 0) setTimeout(() => clock.advance(BUDGET_HEADROOM_MS), 1);
        return wait;
      },
    });
    await sdk(createBudgetedHttpClient({ budget: spy.budget, clock })).customers.retrieve(customer.id);
    assert.equal(spy.asked, 2);
    assert.equal(double.requests.length, 1);
  });
});
