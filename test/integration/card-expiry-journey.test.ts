/**
 * Issue 3's "done when", in one test: card expires -> flag -> entitlement denied with update_card_url ->
 * one e-mail -> link -> portal session -> return -> entitled again. Real app and workers, real Redis and
 * BullMQ, the real Stripe SDK against the double, a real SMTP server, an injected clock; and every log line
 * of the journey is checked for addresses, tokens and card digits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import request from 'supertest';
import { pino } from 'pino';
import { createHarness, PUBLISHER_RETURN_URL, type Harness } from '../support/harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { linkIn, mailsTo, promote, replaceCard, seedSubscriber, settleExpiry, finished } from '../support/card-scenarios.js';
import { createTestRedis, waitFor } from '../support/redis.js';
import { failedChargeFixture } from '../fixtures/charges.js';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';

const EXPIRES = cardExpiresAt(7, 2028); // 2028-08-01T00:00Z

describe('card expiry journey', () => {
  let h: Harness;
  let sink: SmtpSink;
  const lines: string[] = [];

  before(async () => {
    sink = await startSmtpSink();
    const stream = new Writable({
      write(chunk, _e, done) {
        lines.push(String(chunk));
        done();
      },
    });
    h = await createHarness({
      label: 'expiry-journey',
      clockStart: EXPIRES - 3_600_000,
      logger: pino({ level: 'info' }, stream),
      cardExpiry: { smtpUrl: sink.url, noticeDays: [30, 7] },
    });
  });
  after(async () => {
    await h.close();
    await sink.close();
  });

  test('card expires -> flag -> denied with update_card_url -> one e-mail -> link -> portal -> return -> entitled again', async () => {
    const changes = createTestRedis();
    const published: string[] = [];
    changes.on('message', (_channel, message) => published.push(message));
    await changes.subscribe(h.expiry!.feed.channel);

    const sub = await seedSubscriber(h, { exp_month: 7, exp_year: 2028, last4: '5904', brand: 'mastercard', user: 'reader-77' });
    await settleExpiry(h);
    assert.equal((await h.entitlement({ user: 'reader-77' })).body.status, 'active');
    // An hour before the expiry, the 7-day window is the nearest open one: that notice only.
    assert.deepEqual(mailsTo(sink, sub.email).map((m) => m.subject), ['Your card ending in 5904 expires in 1 day']);

    // 1. The card expires: the delayed job re-reads the card from Stripe and flags it.
    h.clock.set(EXPIRES);
    const expireId = `expire-${sub.customerId}-${sub.pmId}-${EXPIRES}`;
    await promote(h, expireId);
    assert.deepEqual(await finished(h, expireId), { outcome: 'flagged', source: 'schedule' });

    // 2. Denied, with the reason and the link.
    const denied = await h.entitlement({ user: 'reader-77' });
    assert.equal(denied.body.entitled, false);
    assert.equal(denied.body.status, 'card_expired');
    assert.equal(denied.body.reason, 'card_expired');
    assert.match(denied.body.update_card_url, /^http:\/\/subgate\.test\/billing\/update-card\?token=v1\./);

    // 3. One e-mail about it, even if the decline, the sweep and a redelivery all say the same again.
    const decline = h.stripe.makeEvent(
      'charge.failed',
      failedChargeFixture({ customer: sub.customerId, paymentMethod: sub.pmId, failureCode: 'expired_card', reason: 'expired_card', card: { brand: 'mastercard', last4: '5904', exp_month: 7, exp_year: 2028 } }),
    );
    assert.equal((await h.deliver(decline)).status, 200);
    assert.equal((await h.deliver(decline)).status, 200);
    await h.expiry!.sweep.sweep();
    await settleExpiry(h);
    const expiredMails = mailsTo(sink, sub.email).filter((m) => m.subject === 'Your card ending in 5904 has expired');
    assert.equal(expiredMails.length, 1);
    const mail = expiredMails[0]!;
    assert.match(mail.text, /Mastercard card ending in 5904/);

    // 4. The link in the e-mail opens a Billing Portal session on the card-update flow.
    const opened = await request(h.app).get(linkIn(mail.text));
    assert.equal(opened.status, 303);
    const session = h.stripe.portalSessions.at(-1)!;
    assert.equal(opened.headers.location, session.session.url);
    assert.equal(session.params.flow_data.type, 'payment_method_update');
    assert.equal(session.session.customer, sub.customerId);

    // 5. In the portal (the double's page) the reader saves a new card; the page links back to us.
    const portalPage = await fetch(session.session.url).then((r) => r.text());
    const back = /href="([^"]+)" data-return/.exec(portalPage)?.[1]?.replace(/&#38;/g, '&');
    assert.ok(back?.startsWith('http://subgate.test/billing/return?token='));
    replaceCard(h, sub.customerId, { exp_month: 7, exp_year: 2032, last4: '0005' });

    // 6. Return: re-read at once, redirect to the publisher, entitled again, before any webhook.
    const eventsBefore = await h.ledger.counts();
    const returned = await request(h.app).get(new URL(back!).pathname + new URL(back!).search);
    assert.equal(returned.status, 303);
    assert.equal(returned.headers.location, PUBLISHER_RETURN_URL);
    const entitled = await h.entitlement({ user: 'reader-77' });
    assert.deepEqual([entitled.body.entitled, entitled.body.status, entitled.body.card.last4], [true, 'active', '0005']);
    assert.equal(entitled.body.update_card_url, null);
    assert.deepEqual(await h.ledger.counts(), eventsBefore, 'no webhook took part in the return');

    // Consumers saw each change once, in order, on the stream and on pub/sub.
    await settleExpiry(h);
    const stream = (await h.expiry!.feed.readChanges()).filter((c) => c.customer === sub.customerId);
    assert.deepEqual(stream.map((c) => [c.previous?.status ?? null, c.next.status]), [
      [null, 'active'],
      ['active', 'card_expired'],
      ['card_expired', 'active'],
    ]);
    await waitFor(() => published.filter((m) => m.includes(sub.customerId)).length === 3, { message: 'three pub/sub messages' });
    await changes.quit();

    // And the reader is told access is back.
    await waitFor(() => mailsTo(sink, sub.email).some((m) => m.subject === 'Your The Harness Gazette subscription is active again'));

    // No info log line of the whole journey carries an address, a token, or card digits.
    const logs = lines.join('');
    assert.ok(logs.length > 0);
    assert.ok(!logs.includes(sub.email!), 'no e-mail address in logs');
    assert.ok(!/token=|v1\.[A-Za-z0-9_-]{10,}\./.test(logs), 'no link token in logs');
    assert.ok(!/"last4"|ending in \d{4}/.test(logs), 'no card digits in logs');
    assert.match(logs, /card flagged expired/, 'the flag itself is logged (by ids)');
  });
});
