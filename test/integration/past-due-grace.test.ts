/**
 * A past_due subscription's payment grace ends with no event from Stripe: a delayed job re-evaluates the
 * entitlement then, so the change feed (and every cache that follows it) hears of it on time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, POLICY, type Harness } from '../support/harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { DAY, expiryJobs, finished, promote, seedSubscriber, settleExpiry } from '../support/card-scenarios.js';

const START = Date.UTC(2026, 10, 2, 9, 0, 0);

describe('past_due grace end', () => {
  let h: Harness;
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink();
    h = await createHarness({ label: 'past-due-grace', clockStart: START, cardExpiry: { smtpUrl: sink.url } });
  });
  after(async () => {
    await h.close();
    await sink.close();
  });

  test('when the payment grace runs out, the change to payment_failed is published at that instant', async () => {
    const sub = await seedSubscriber(h, { exp_month: 12, exp_year: 2030, status: 'past_due', openInvoice: true });
    await settleExpiry(h);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'grace_period');

    const graceJobs = (await expiryJobs(h, ['delayed'])).filter((j) => String(j.id).startsWith(`pastdue-${sub.customerId}-`));
    assert.equal(graceJobs.length, 1, 'one grace-end job for the subscription');
    const job = graceJobs[0]!;
    assert.equal(job.data.subscriptionId, sub.subscriptionId);

    // Scheduling again (another refresh) adds no second job.
    await h.syncCustomer(sub.customerId);
    await settleExpiry(h);
    assert.equal((await expiryJobs(h, ['delayed'])).filter((j) => j.id === job.id).length, 1);

    h.clock.advance(POLICY.pastDueGraceDays * DAY + 1);
    await promote(h, String(job.id));
    await finished(h, String(job.id));
    const changes = (await h.expiry!.feed.readChanges()).filter((c) => c.customer === sub.customerId);
    assert.equal(changes.at(-1)?.next.status, 'payment_failed');
    assert.equal(changes.at(-1)?.previous?.status, 'grace_period');
  });
});
