/**
 * The expiry schedule end to end: real Redis and BullMQ, the Stripe double, a real SMTP sink, and an
 * injected clock. Delayed jobs are promoted by hand after the clock is moved: no test waits real days.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { DAY, expiryJobs, finished, mailsTo, promote, replaceCard, seedSubscriber, settleExpiry, waitForMail } from '../support/card-scenarios.js';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';

// A card printed 09/2026 expires at 2026-10-01T00:00Z; this is exactly 30 days before.
const START = Date.UTC(2026, 8, 1);
const EXPIRES = cardExpiresAt(9, 2026);

describe('card expiry schedule', () => {
  let h: Harness;
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink();
    h = await createHarness({ label: 'expiry-schedule', clockStart: START, cardExpiry: { smtpUrl: sink.url } });
  });
  after(async () => {
    await h.close();
    await sink.close();
  });
  afterEach(async () => {
    await settleExpiry(h);
    h.clock.set(START);
  });

  test('a card expiring in 30, then 7, then 0 days: one notice each, then the flag and card_expired', async () => {
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2026, last4: '4444', brand: 'visa' });
    const base = `${sub.customerId}-${sub.pmId}-${EXPIRES}`;

    // 30 days out: the 30-day window opens now, so its notice goes at once.
    const [first] = await waitForMail(sink, 1);
    assert.ok(first);
    assert.deepEqual(first.to, [sub.email]);
    assert.equal(first.subject, 'Your card ending in 4444 expires in 30 days');
    assert.match(first.text, /Visa card ending in 4444/);
    assert.match(first.text, /end of 09\/2026/);
    assert.match(first.text, /http:\/\/subgate\.test\/billing\/update-card\?token=/);
    assert.match(first.html, /<a href="http:\/\/subgate\.test\/billing\/update-card\?token=/);
    assert.equal(first.headers['x-subgate-notice'], 'card_expiring');

    // The rest waits as delayed jobs with deterministic ids.
    const delayed = (await expiryJobs(h, ['delayed'])).map((j) => j.id).sort();
    assert.deepEqual(delayed, [`expire-${base}`, `notice-${base}-7d`].sort());

    // 7 days out.
    h.clock.set(EXPIRES - 7 * DAY);
    await promote(h, `notice-${base}-7d`);
    await waitForMail(sink, 2);
    assert.equal(mailsTo(sink, sub.email)[1]?.subject, 'Your card ending in 4444 expires in 7 days');

    // The expiry instant: Stripe still has the same card, so it is flagged and access ends.
    h.clock.set(EXPIRES);
    await promote(h, `expire-${base}`);
    assert.deepEqual(await finished(h, `expire-${base}`), { outcome: 'flagged', source: 'schedule' });
    await waitForMail(sink, 3);
    const mails = mailsTo(sink, sub.email);
    assert.equal(mails.length, 3);
    assert.equal(mails[2]?.subject, 'Your card ending in 4444 has expired');

    const res = await h.entitlement({ customer: sub.customerId });
    assert.equal(res.body.status, 'card_expired');
    assert.equal(res.body.entitled, false);
    assert.match(res.body.update_card_url, /^http:\/\/subgate\.test\/billing\/update-card\?token=/);
    // Stripe was asked about the card before the flag went up.
    assert.equal(h.stripe.count({ method: 'GET', path: `/v1/payment_methods/${sub.pmId}` }), 1);
  });

  test('a card expiring in 10 days with windows 30 and 7: the 30-day notice goes at once, the 7-day one waits', async () => {
    h.clock.set(EXPIRES - 10 * DAY);
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2026 });
    const before = sink.messages.length;
    await waitFor(() => mailsTo(sink, sub.email).length === 1);
    assert.equal(mailsTo(sink, sub.email)[0]?.subject, 'Your card ending in 4242 expires in 10 days');
    const ids = (await expiryJobs(h, ['delayed'])).map((j) => j.id);
    assert.ok(ids.includes(`notice-${sub.customerId}-${sub.pmId}-${EXPIRES}-7d`));
    assert.equal(sink.messages.length, before + 1);
  });

  test('several windows open at once: only the nearest one is sent', async () => {
    h.clock.set(EXPIRES - 5 * DAY);
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2026 });
    await settleExpiry(h);
    await waitFor(() => mailsTo(sink, sub.email).length === 1);
    const [only] = mailsTo(sink, sub.email);
    assert.equal(only?.subject, 'Your card ending in 4242 expires in 5 days');
    assert.equal(mailsTo(sink, sub.email).length, 1);
    const mine = (await expiryJobs(h)).filter((j) => j.id?.includes(sub.customerId));
    assert.deepEqual(mine.filter((j) => j.id?.endsWith('d')).map((j) => j.id), [`notice-${sub.customerId}-${sub.pmId}-${EXPIRES}-7d`]);
  });

  test('a card already expired when it becomes known gets the card_expired notice alone', async () => {
    h.clock.set(EXPIRES + 3 * DAY);
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2026 });
    await settleExpiry(h);
    await waitFor(() => mailsTo(sink, sub.email).length === 1);
    assert.deepEqual(mailsTo(sink, sub.email).map((m) => m.subject), ['Your card ending in 4242 has expired']);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'card_expired');
  });

  test('scheduling the same card again, after every refresh, never multiplies its jobs', async () => {
    h.clock.set(EXPIRES - 20 * DAY);
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2026 });
    await settleExpiry(h);
    const mine = async () => (await expiryJobs(h)).filter((j) => j.id?.includes(sub.customerId)).map((j) => j.id).sort();
    const once = await mine();
    for (let i = 0; i < 3; i++) await h.syncCustomer(sub.customerId);
    await settleExpiry(h);
    assert.deepEqual(await mine(), once);
    assert.equal(mailsTo(sink, sub.email).length, 1, 'the 30-day notice only once');
  });

  test('a card replaced before its expiry job runs: no notice, no flag', async () => {
    h.clock.set(EXPIRES - 20 * DAY);
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2026 });
    await settleExpiry(h);
    const base = `${sub.customerId}-${sub.pmId}-${EXPIRES}`;
    const mailsBefore = mailsTo(sink, sub.email).length;

    replaceCard(h, sub.customerId, { exp_month: 12, exp_year: 2030 });
    await h.syncCustomer(sub.customerId);

    h.clock.set(EXPIRES - 7 * DAY);
    await promote(h, `notice-${base}-7d`);
    assert.deepEqual(await finished(h, `notice-${base}-7d`), { outcome: 'card_changed' });
    h.clock.set(EXPIRES);
    await promote(h, `expire-${base}`);
    assert.deepEqual(await finished(h, `expire-${base}`), { outcome: 'card_changed' });

    await settleExpiry(h);
    assert.equal(mailsTo(sink, sub.email).length, mailsBefore);
    const res = await h.entitlement({ customer: sub.customerId });
    assert.equal(res.body.status, 'active');
    assert.equal((await h.store.read(sub.customerId))?.expiry_marks, undefined);
  });

  test('at the expiry instant the networks updater had already refreshed the card: no flag, the refresh brings it in', async () => {
    h.clock.set(EXPIRES - 2 * DAY);
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2026 });
    await settleExpiry(h);
    const base = `${sub.customerId}-${sub.pmId}-${EXPIRES}`;
    // Stripe updated the same PaymentMethod's expiry; its webhook has not arrived.
    const pm = h.stripe.getPaymentMethod(sub.pmId)!;
    h.stripe.putPaymentMethod({ ...pm, card: { ...pm.card, exp_month: 9, exp_year: 2030 } });

    h.clock.set(EXPIRES);
    await promote(h, `expire-${base}`);
    assert.deepEqual(await finished(h, `expire-${base}`), { outcome: 'card_updated' });
    await settleExpiry(h);
    const res = await h.entitlement({ customer: sub.customerId });
    assert.equal(res.body.status, 'active');
    assert.equal(res.body.card.exp_year, 2030);
    assert.deepEqual(mailsTo(sink, sub.email).map((m) => m.subject), ['Your card ending in 4242 expires in 2 days']);
  });

  test('a December card is valid through New Year’s Eve and flagged at the first instant of January', async () => {
    const newYear = cardExpiresAt(12, 2026);
    assert.equal(newYear, Date.UTC(2027, 0, 1));
    h.clock.set(newYear - 2 * DAY);
    const sub = await seedSubscriber(h, { exp_month: 12, exp_year: 2026 });
    await settleExpiry(h);
    const base = `${sub.customerId}-${sub.pmId}-${newYear}`;
    h.clock.set(newYear - 1);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'active');

    h.clock.set(newYear);
    await promote(h, `expire-${base}`);
    assert.deepEqual(await finished(h, `expire-${base}`), { outcome: 'flagged', source: 'schedule' });
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'card_expired');
  });

  test('an expiry job that runs before its instant (a clock running ahead) goes back to wait, and flags later', async () => {
    h.clock.set(EXPIRES - 2 * DAY);
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2026 });
    await settleExpiry(h);
    const id = `expire-${sub.customerId}-${sub.pmId}-${EXPIRES}`;
    h.clock.set(EXPIRES - 1000);
    await promote(h, id);
    await waitFor(async () => (await h.queues.cardExpiry.getJob(id))?.attemptsStarted === 1 && (await h.queues.cardExpiry.getJobState(id)) === 'delayed');
    assert.equal((await h.store.read(sub.customerId))?.expiry_marks, undefined, 'not flagged early');
    h.clock.set(EXPIRES);
    await promote(h, id);
    assert.deepEqual(await finished(h, id), { outcome: 'flagged', source: 'schedule' });
  });

  test('a February card in a leap year is valid through the 29th', async () => {
    const march = cardExpiresAt(2, 2028);
    h.clock.set(Date.UTC(2028, 1, 29, 23, 59, 59));
    const sub = await seedSubscriber(h, { exp_month: 2, exp_year: 2028 });
    await settleExpiry(h);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'active');
    const ids = (await expiryJobs(h, ['delayed'])).map((j) => j.id);
    assert.ok(ids.includes(`expire-${sub.customerId}-${sub.pmId}-${march}`));
    h.clock.set(march);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'card_expired');
  });
});

async function waitFor(predicate: () => boolean | Promise<boolean>): Promise<void> {
  const { waitFor: poll } = await import('../support/redis.js');
  await poll(predicate, { timeoutMs: 10_000 });
}

describe('card expiry with a card grace of 3 days', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({
      label: 'expiry-grace',
      clockStart: EXPIRES - DAY,
      policy: { cardExpiredGraceDays: 3, pastDueGraceDays: 7 },
      cardExpiry: { noticeDays: [7] },
    });
  });
  after(async () => {
    await h.close();
  });

  test('the flag starts the grace period; the grace-end job publishes the loss of access', async () => {
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2026 });
    await settleExpiry(h);
    const base = `${sub.customerId}-${sub.pmId}-${EXPIRES}`;

    h.clock.set(EXPIRES);
    await promote(h, `expire-${base}`);
    assert.deepEqual(await finished(h, `expire-${base}`), { outcome: 'flagged', source: 'schedule' });
    const graced = await h.entitlement({ customer: sub.customerId });
    assert.deepEqual([graced.body.status, graced.body.entitled, graced.body.grace_until], ['grace_period', true, new Date(EXPIRES + 3 * DAY).toISOString()]);
    assert.ok(graced.body.update_card_url);

    h.clock.set(EXPIRES + 3 * DAY);
    await promote(h, `grace-${base}`);
    assert.deepEqual(await finished(h, `grace-${base}`), { outcome: 'published' });
    const changes = (await h.expiry!.feed.readChanges()).filter((c) => c.customer === sub.customerId).map((c) => c.next.status);
    assert.deepEqual(changes, ['active', 'grace_period', 'card_expired']);
  });
});
