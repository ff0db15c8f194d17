/**
 * The safety-net sweep: a BullMQ job scheduler, reading the expiry index, brings back what the delayed
 * jobs missed. Real Redis and BullMQ, the Stripe double, an SMTP sink, an injected clock.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { DAY, expiryJobs, mailsTo, seedSubscriber, settleExpiry } from '../support/card-scenarios.js';
import { waitFor } from '../support/redis.js';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';
import { EXPIRY_SWEEP_SCHEDULER_ID, JOB, upsertExpirySweep } from '../../src/queues.js';
import { subscriberKeys } from '../../src/store/subscriber-store.js';

const START = Date.UTC(2027, 2, 10);
const EXPIRES = cardExpiresAt(3, 2027); // 2027-04-01

describe('card expiry sweep', () => {
  let h: Harness;
  let sink: SmtpSink;
  const indexKey = (customerId: string) => subscriberKeys(h.prefix).expiryIndexFor(customerId);

  before(async () => {
    sink = await startSmtpSink();
    h = await createHarness({ label: 'expiry-sweep', clockStart: START, cardExpiry: { smtpUrl: sink.url } });
  });
  after(async () => {
    await h.close();
    await sink.close();
  });
  afterEach(async () => {
    await settleExpiry(h);
    h.clock.set(START);
  });

  test('the sweep catches an expiry whose delayed job was deleted: the card is flagged and the reader told once', async () => {
    const sub = await seedSubscriber(h, { exp_month: 3, exp_year: 2027 });
    await settleExpiry(h);
    const id = `expire-${sub.customerId}-${sub.pmId}-${EXPIRES}`;
    assert.equal(await h.queues.cardExpiry.getJobState(id), 'delayed');
    await h.queues.cardExpiry.remove(id); // lost: Redis restored from an older backup, a bad deploy, …
    assert.equal(await h.queues.cardExpiry.getJob(id), undefined);

    h.clock.set(EXPIRES + 6 * 3_600_000);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'card_expired', 'the policy reads the date anyway');
    const result = await h.expiry!.sweep.sweep();
    assert.ok(result.due >= 1);
    await waitFor(async () => (await h.store.read(sub.customerId))?.expiry_marks?.[0]?.flag_source === 'sweep', {
      message: 'the card to be flagged by the re-planned expiry check',
    });
    await settleExpiry(h);
    assert.deepEqual(
      mailsTo(sink, sub.email).map((m) => m.subject),
      ['Your card ending in 4242 expires in 22 days', 'Your card ending in 4242 has expired'],
    );

    // A second sweep the next day finds it flagged already: nothing new, no second e-mail.
    h.clock.advance(DAY);
    const again = await h.expiry!.sweep.sweep();
    assert.equal(again.due, 0);
    await settleExpiry(h);
    assert.equal(mailsTo(sink, sub.email).length, 2);
  });

  test('the scheduler runs the sweep as a BullMQ job scheduler, one per id however many workers upsert it', async () => {
    await upsertExpirySweep(h.queues.cardExpiry, '17 3 * * *');
    await upsertExpirySweep(h.queues.cardExpiry, '17 3 * * *');
    const scheduler = await h.queues.cardExpiry.getJobScheduler(EXPIRY_SWEEP_SCHEDULER_ID);
    assert.equal(scheduler?.pattern, '17 3 * * *');
    assert.equal(await h.queues.cardExpiry.getJobSchedulersCount(), 1);
    // Its next run waits as a delayed job named for the sweep; running it now performs a sweep.
    const next = (await expiryJobs(h, ['delayed'])).find((j) => j.name === JOB.expirySweep);
    assert.ok(next, 'the next sweep is queued');
    await next.promote();
    await waitFor(async () => ((await h.queues.cardExpiry.getJob(next.id!))?.returnvalue as { outcome?: string } | undefined)?.outcome === 'swept', { message: 'the sweep job to run' });
    await h.queues.cardExpiry.removeJobScheduler(EXPIRY_SWEEP_SCHEDULER_ID);
  });

  test('the index holds only customers whose card is billed, scored by its expiry, and follows every change', async () => {
    const sub = await seedSubscriber(h, { exp_month: 3, exp_year: 2027 });
    assert.equal(Number(await h.workerRedis.zscore(indexKey(sub.customerId), sub.customerId)), EXPIRES);

    // A new card with a later expiry moves the score.
    const pm = h.stripe.getPaymentMethod(sub.pmId)!;
    h.stripe.putPaymentMethod({ ...pm, card: { ...pm.card, exp_month: 8, exp_year: 2031 } });
    await h.syncCustomer(sub.customerId);
    assert.equal(Number(await h.workerRedis.zscore(indexKey(sub.customerId), sub.customerId)), cardExpiresAt(8, 2031));

    // Canceled: no card is billed any more, so it leaves the index (the sweep never reads it again).
    const s = h.stripe.getSubscription(sub.subscriptionId)!;
    h.stripe.putSubscription({ ...s, status: 'canceled' });
    await h.syncCustomer(sub.customerId);
    assert.equal(await h.workerRedis.zscore(indexKey(sub.customerId), sub.customerId), null);
  });

  test('a sweep reads only the window: far-off cards are neither read nor planned', async () => {
    const near = await seedSubscriber(h, { exp_month: 3, exp_year: 2027 });
    const far = await seedSubscriber(h, { exp_month: 3, exp_year: 2031 });
    await settleExpiry(h);
    const inWindow = await h.store.dueCustomers(START + h.expiry!.scheduler.horizonMs, 0, 10_000);
    const ids = inWindow.map((d) => d.customerId);
    assert.ok(ids.includes(near.customerId));
    assert.ok(!ids.includes(far.customerId));
    const farJobs = (await expiryJobs(h)).filter((j) => j.id?.includes(far.customerId));
    assert.deepEqual(farJobs, [], 'years-ahead jobs are not kept in Redis');
  });
});
