import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { createTestResync, seedMany } from '../support/resync.js';
import { seedReader } from '../support/readers.js';
import { seedSubscriber, expiryJobs, settleExpiry } from '../support/card-scenarios.js';
import { waitFor } from '../support/redis.js';
import { ResyncStoppedError, ResyncBusyError, ResyncLeaseLostError } from '../../src/operations/resync-runner.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);
const customersList = (r: { method: string; path: string }) => r.method === 'GET' && r.path === '/v1/customers';
const subscriptionsList = (r: { method: string; path: string }) => r.method === 'GET' && r.path === '/v1/subscriptions';

describe('resync from Stripe', () => {
  let h: Harness;
  const sec = () => Math.floor(h.clock.now() / 1000);

  before(async () => {
    h = await createHarness({ label: 'resync', clockStart: START, workers: false });
  });
  after(async () => {
    await h.close();
  });

  test('3,000 customers come in through paging and injected 429s, with no per-customer request', async (t) => {
    const ids = seedMany(h, 3000, { nowSeconds: sec(), noSubscriptionEvery: 10 });
    h.stripe.failNext(3, { status: 429, match: customersList });
    h.stripe.failNext(2, { status: 429, match: subscriptionsList });
    h.stripe.resetRequests();
    const { run } = createTestResync(h);

    const summary = await run();

    assert.equal(summary.phase, 'done');
    assert.equal(summary.customers, 3000);
    assert.equal(summary.subscriptions, 2700);
    assert.equal(summary.written, 3000);
    assert.equal(summary.rate_limited, 5);
    // 30 pages of customers and 27 of subscriptions, plus one retry per 429; nothing per customer.
    assert.equal(h.stripe.count(customersList), 30 + 3);
    assert.equal(h.stripe.count(subscriptionsList), 27 + 2);
    assert.equal(h.stripe.count((r) => r.path.startsWith('/v1/customers/')), 0);
    const stored = await h.store.readMany(ids);
    assert.equal(stored.length, 3000);
    assert.equal((await h.entitlement({ customer: ids[1]! })).body.status, 'active');
    assert.equal((await h.entitlement({ customer: ids[0]! })).body.status, 'none');
    assert.deepEqual((await h.entitlement({ user: 'bulk-1' })).body.card, { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030, expired: false });
    t.diagnostic(`resync rate: ${Math.round(3000 / (summary.elapsed_ms / 1000))} customers/s (${Math.round(summary.elapsed_ms)} ms for 3000)`);
  });

  test('a resync that dies halfway resumes at its last page and handles no page twice', async () => {
    h.stripe.reset();
    const ids = seedMany(h, 1000, { nowSeconds: sec() });
    let customerPages = 0;
    // Stripe fails every customers page after the fifth, more often than the run will retry: it stops.
    h.stripe.failNext(1000, { status: 500, match: (r) => customersList(r) && ++customerPages > 5 });
    const { run, checkpoints } = createTestResync(h, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });

    await assert.rejects(run({ fresh: true }), (err: Error & { statusCode?: number }) => err.statusCode === 500);
    const stopped = await checkpoints.current();
    assert.equal(stopped?.phase, 'customers');
    assert.equal(stopped?.customers, 500);
    assert.equal((await h.store.readMany(ids)).length, 500);

    h.stripe.clearFaults();
    h.stripe.resetRequests();
    const summary = await run();

    assert.equal(summary.resumed, true);
    assert.equal(summary.run_id, stopped?.run_id);
    assert.equal(summary.customers, 1000, 'the 500 before the crash and the 500 after, none twice');
    assert.equal(summary.written, 1000);
    assert.equal(h.stripe.count(subscriptionsList), 0, 'the staged subscriptions were kept');
    assert.equal(h.stripe.requests.find(customersList)?.query.starting_after, stopped?.cursor);
    assert.equal((await h.store.readMany(ids)).length, 1000);
  });

  test('a resync racing a newer webhook leaves the newer state in place', async () => {
    h.stripe.reset();
    const racing = seedReader(h.stripe, { nowSeconds: sec() });
    const untouched = seedReader(h.stripe, { nowSeconds: sec() });
    const { run } = createTestResync(h);
    const workers = h.startWorkers();
    try {
      const summary = await run({
        fresh: true,
        async onProgress(cp) {
          if (cp.phase !== 'customers' || cp.customers !== 0) return;
          // After the resync staged the subscription as active, the reader cancels and Stripe says so.
          h.clock.advance(60_000);
          const canceled = { ...h.stripe.getSubscription(racing.subscription.id)!, status: 'canceled', canceled_at: sec(), ended_at: sec() };
          h.stripe.putSubscription(canceled);
          assert.equal((await h.deliver(h.stripe.makeEvent('customer.subscription.deleted', canceled))).status, 200);
          await h.settle();
        },
      });

      assert.equal(summary.stale, 1);
      assert.equal(summary.written, 1);
      assert.equal((await h.entitlement({ customer: racing.customer.id })).body.status, 'canceled');
      assert.equal((await h.entitlement({ customer: untouched.customer.id })).body.status, 'active');
      assert.ok((await h.store.read(racing.customer.id))!.read_at > summary.read_at);
    } finally {
      await workers.close();
    }
  });
});

describe('resync and card expiry', () => {
  let h: Harness;

  before(async () => {
    h = await createHarness({ label: 'resync-expiry', clockStart: START, cardExpiry: {} });
  });
  after(async () => {
    await h.close();
  });

  test('an expired card found by a resync gets the schedule and the flag a webhook refresh gives it', async () => {
    // November 2026 is the clock's month: a card printed 10/2026 has expired, one printed 12/2026 expires soon.
    const expired = await seedSubscriber(h, { exp_month: 10, exp_year: 2026, sync: false });
    const expiring = await seedSubscriber(h, { exp_month: 12, exp_year: 2026, sync: false });
    const { run } = createTestResync(h);

    const summary = await run({ fresh: true });
    await settleExpiry(h);

    assert.equal(summary.written, 2);
    const projection = (await h.store.read(expiring.customerId))!;
    const planned = h.expiry!.scheduler.planFor(projection).map((job) => job.jobId).sort();
    assert.ok(planned.length > 0, 'a card expiring next month has jobs to plan');
    const jobIds = (await expiryJobs(h)).map((job) => job.id);
    for (const id of planned) assert.ok(jobIds.includes(id), `job ${id} was scheduled`);
    const flagged = await waitFor(async () => (await h.store.read(expired.customerId))?.expiry_marks?.find((m) => m.flagged_at !== null), {
      timeoutMs: 10_000,
      message: 'the expired card to be flagged',
    });
    assert.equal(flagged?.card, expired.pmId);
    assert.equal((await h.entitlement({ customer: expired.customerId })).body.status, 'card_expired');
  });
});

test('an aborted resync stops between pages with its checkpoint saved', async () => {
  const h = await createHarness({ label: 'resync-abort', clockStart: START, workers: false });
  try {
    seedMany(h, 250, { nowSeconds: Math.floor(START / 1000) });
    const controller = new AbortController();
    const { run, checkpoints } = createTestResync(h);
    await assert.rejects(
      run({ onProgress: (cp) => void (cp.phase === 'customers' && cp.customers === 100 && controller.abort()), signal: controller.signal }),
      ResyncStoppedError,
    );
    assert.deepEqual([(await checkpoints.current())?.phase, (await checkpoints.current())?.customers], ['customers', 100]);
    const summary = await run();
    assert.deepEqual([summary.resumed, summary.customers, summary.phase], [true, 250, 'done']);
  } finally {
    await h.close();
  }
});

describe('one resync at a time', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ label: 'resync-lease', clockStart: START, workers: false });
  });
  after(async () => {
    await h.close();
  });

  test('a second resync started while one runs is refused as busy, and the first completes whole', async () => {
    const ids = seedMany(h, 300, { nowSeconds: Math.floor(START / 1000) });
    const { run } = createTestResync(h);
    let second: Promise<unknown> | null = null;
    const first = run({
      fresh: true,
      // Start the rival once the first has staged subscriptions: the moment a second run would do harm.
      onProgress: (cp) => void (cp.phase === 'customers' && second === null && (second = run().then(() => 'finished', (err: Error) => err))),
    });
    const summary = await first;
    const rival: unknown = await (second as Promise<unknown> | null);
    assert.ok(rival instanceof ResyncBusyError, 'the rival run was refused');
    assert.deepEqual([summary.phase, summary.customers, summary.written], ['done', 300, 300]);
    const stored = await h.store.readMany(ids);
    assert.equal(stored.filter((state) => state.projection.subscriptions.length === 1).length, 300, 'no customer written without its subscription');
  });

  test('a run whose lease was taken over stops before it writes another page', async () => {
    seedMany(h, 300, { nowSeconds: Math.floor(START / 1000) });
    const { run, checkpoints } = createTestResync(h);
    await assert.rejects(
      run({
        fresh: true,
        // As if this process stalled past its lease and another run took it.
        onProgress: async (cp) => {
          if (cp.phase === 'customers' && cp.customers === 100) {
            await h.workerRedis.del(`${h.prefix}:resync:lease`);
            assert.equal(await checkpoints.acquireLease('rival', 60_000), true);
          }
        },
      }),
      ResyncLeaseLostError,
    );
    assert.equal((await checkpoints.current())?.customers, 100, 'no page after the lease was lost');
    await checkpoints.releaseLease('rival');
  });

  test('a resync asked for before a run that has since finished is answered by that run', async () => {
    seedMany(h, 50, { nowSeconds: Math.floor(START / 1000) });
    const { run } = createTestResync(h);
    const requestedAt = h.clock.now();
    const done = await run({ fresh: true });
    h.stripe.resetRequests();
    const again = await run({ requestedAt });
    assert.equal(again.run_id, done.run_id);
    assert.equal(h.stripe.requests.length, 0, 'no Stripe request for a request already served');
  });
});
