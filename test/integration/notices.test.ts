/**
 * The notices worker against a real SMTP server (smtp-server in process) with nodemailer sending: exactly
 * one e-mail per notice under duplicates, racing workers and retries; temporary failures retried,
 * permanent rejections recorded and not retried; readers without an address skipped and counted.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import { createCustomerSync } from '../../src/sync/customer-sync.js';
import { createSnapshotWriter } from '../../src/sync/snapshot-writer.js';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Worker } from 'bullmq';
import { pino } from 'pino';
import { createHarness, PUBLISHER_NAME, SUPPORT_EMAIL, type Harness } from '../support/harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { DAY, mailsTo, seedSubscriber, settleExpiry } from '../support/card-scenarios.js';
import { createTestRedis, waitFor } from '../support/redis.js';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';
import { noticeKey, type NoticeRequest } from '../../src/domain/notice.js';
import { QUEUE, JOB, queueOptions } from '../../src/queues.js';
import { createMailer } from '../../src/adapters/mailer.js';
import { createNoticeLedger } from '../../src/store/notice-ledger.js';
import { createSubscriberStore } from '../../src/store/subscriber-store.js';
import { createNoticeSender, NoticeBusyError, type NoticeOutcome } from '../../src/notices/notice-sender.js';
import { createNoticeProcessor } from '../../workers/processors/notice.processor.js';
import { createSilentLogger } from '../../src/logger.js';

const START = Date.UTC(2027, 9, 1); // 2027-10-01
const EXPIRES = cardExpiresAt(10, 2027); // 2027-11-01, 31 days on: no window open yet, so no notice but ours

describe('notices', () => {
  let h: Harness;
  let sink: SmtpSink;

  before(async () => {
    sink = await startSmtpSink();
    h = await createHarness({
      label: 'notices',
      clockStart: START,
      cardExpiry: { smtpUrl: sink.url, noticeDays: [30], noticeRetry: { attempts: 10, backoffMs: 50 } },
    });
  });
  after(async () => {
    await h.close();
    await sink.close();
  });
  afterEach(async () => {
    await sink.up();
    await settleExpiry(h, 20_000);
  });

  /** A subscriber in the database whose card-expiring notice we can send by hand. */
  async function subscriberNotice(opts: { email?: string | null } = {}): Promise<{ request: NoticeRequest; email: string | null }> {
    const sub = await seedSubscriber(h, { exp_month: 10, exp_year: 2027, sync: false, ...opts });
    // Project it without planning jobs, so the notice under test is the only one.
    const writeSnapshot = createSnapshotWriter({ store: h.store });
    await createCustomerSync({ stripe: h.gateway, store: h.store, clock: h.clock, userIdMetadataKey: 'user_id', logger: createSilentLogger(), writeSnapshot })(sub.customerId);
    const card = (await h.store.read(sub.customerId))!.default_card!;
    return { request: { kind: 'card_expiring', customerId: sub.customerId, card, window: '30d', requestedAt: h.clock.now() }, email: sub.email };
  }

  test('two notice workers racing over duplicate jobs of one notice send one e-mail', async () => {
    const { request, email } = await subscriberNotice();
    const redis = createTestRedis();
    const second = new Worker(
      QUEUE.notices,
      createNoticeProcessor({
        sender: createNoticeSender({
          ledger: createNoticeLedger({ redis, prefix: h.prefix }),
          mailer: h.mailer,
          store: createSubscriberStore({ redis, prefix: h.prefix }),
          links: h.links,
          clock: h.clock,
          publisherName: PUBLISHER_NAME,
          supportEmail: SUPPORT_EMAIL,
          logger: createSilentLogger(),
        }),
      }),
      { ...queueOptions(redis, h.prefix, QUEUE.notices), concurrency: 8 },
    );
    try {
      // Five jobs for the same notice (e.g. from duplicate events through different paths), two worker processes.
      await Promise.all(
        [1, 2, 3, 4, 5].map((n) =>
          h.queues.notices.add(JOB.sendNotice, request, { jobId: `race-${n}-${request.customerId}`, attempts: 10, backoff: { type: 'fixed', delay: 50 } }),
        ),
      );
      await settleExpiry(h);
      assert.equal(mailsTo(sink, email).length, 1);
      const record = await h.expiry!.noticeLedger.get(noticeKey(request));
      assert.equal(record?.state, 'sent');
      const counts = await h.expiry!.noticeLedger.counts();
      assert.equal(counts['card_expiring|sent'], 1);
    } finally {
      await second.close();
      await redis.quit();
    }
  });

  test('racing senders, called directly: one sends, the rest see the claim', async () => {
    const { request, email } = await subscriberNotice();
    const sender = h.expiry!.noticeSender!;
    const attempt = async (): Promise<NoticeOutcome> => {
      for (;;) {
        try {
          return await sender.send(request);
        } catch (err) {
          if (!(err instanceof NoticeBusyError)) throw err;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    };
    const outcomes = await Promise.all(Array.from({ length: 10 }, attempt));
    assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'sent']);
    assert.equal(mailsTo(sink, email).length, 1);
  });

  test('SMTP down, then up: the notice is retried with backoff and sent once', async () => {
    await sink.down();
    const { request, email } = await subscriberNotice();
    await h.expiry.producers.notice(request);
    await waitFor(async () => ((await h.expiry!.noticeLedger.counts())['card_expiring|temporary_failure'] ?? 0) >= 2, {
      timeoutMs: 10_000,
      message: 'at least two failed attempts while SMTP is down',
    });
    assert.equal(mailsTo(sink, email).length, 0);
    await sink.up();
    await waitFor(() => mailsTo(sink, email).length === 1, { timeoutMs: 15_000, message: 'the notice after SMTP is back' });
    await settleExpiry(h, 20_000);
    assert.equal(mailsTo(sink, email).length, 1);
    assert.equal((await h.expiry!.noticeLedger.get(noticeKey(request)))?.state, 'sent');
  });

  test('a 451 (try later) is retried; the reader gets one copy', async () => {
    const { request, email } = await subscriberNotice();
    sink.refuseNext(2, 451);
    await h.expiry.producers.notice(request);
    await waitFor(() => mailsTo(sink, email).length === 1, { timeoutMs: 10_000, message: 'the notice after two 451s' });
    await settleExpiry(h);
    assert.equal(mailsTo(sink, email).length, 1);
    const job = await h.queues.notices.getJob(`notice-${noticeKey(request)}`);
    assert.equal(job?.attemptsMade, 3);
  });

  test('a permanent rejection (550) is recorded, visible in the failed set, and not retried', async () => {
    const { request, email } = await subscriberNotice();
    sink.refuseNext(1, 550);
    await h.expiry.producers.notice(request);
    const jobId = `notice-${noticeKey(request)}`;
    await waitFor(async () => (await h.queues.notices.getJobState(jobId)) === 'failed', { message: 'the notice job to fail' });
    const job = await h.queues.notices.getJob(jobId);
    assert.equal(job?.attemptsMade, 1);
    assert.match(job?.failedReason ?? '', /rejected permanently: .*550/);
    const record = await h.expiry!.noticeLedger.get(noticeKey(request));
    assert.equal(record?.state, 'rejected');
    assert.match(record?.detail ?? '', /550/);
    assert.ok(!(record?.detail ?? '').includes(email ?? '@'), 'no address in the record');
    assert.equal(mailsTo(sink, email).length, 0);
    // Asked again later: the recorded rejection stands.
    await h.queues.notices.remove(jobId);
    await h.expiry.producers.notice(request);
    await settleExpiry(h);
    assert.equal(mailsTo(sink, email).length, 0);
  });

  test('a reader without an e-mail address is skipped and counted, and the job completes', async () => {
    const before = (await h.expiry!.noticeLedger.counts())['card_expiring|skipped_no_email'] ?? 0;
    const { request } = await subscriberNotice({ email: null });
    const total = sink.messages.length;
    await h.expiry.producers.notice(request);
    const jobId = `notice-${noticeKey(request)}`;
    await waitFor(async () => (await h.queues.notices.getJobState(jobId)) === 'completed', { message: 'the notice job to complete' });
    assert.deepEqual((await h.queues.notices.getJob(jobId))?.returnvalue, { outcome: 'skipped', key: noticeKey(request), reason: 'no_email' });
    assert.equal((await h.expiry!.noticeLedger.counts())['card_expiring|skipped_no_email'], before + 1);
    assert.equal(sink.messages.length, total);
  });

  test('the notice is rendered from the templates: text and HTML, publisher, support address, card, link', async () => {
    const { request, email } = await subscriberNotice();
    await h.expiry.producers.notice(request);
    const [mail] = (await waitFor(() => (mailsTo(sink, email).length === 1 ? mailsTo(sink, email) : null)))!;
    assert.ok(mail);
    assert.equal(mail.headers.from, `${PUBLISHER_NAME} <${SUPPORT_EMAIL}>`);
    assert.match(mail.messageId, /^<notice\.[0-9a-f]{32}@gazette\.test>$/);
    assert.match(mail.text, /The Visa card ending in 4242 that pays for your The Harness Gazette subscription expires at the end of 10\/2027, in 31 days\./);
    assert.match(mail.text, /Questions\? Write to help@gazette\.test\./);
    assert.match(mail.html, /<a href="http:\/\/subgate\.test\/billing\/update-card\?token=v1\.[^"]+"/);
    assert.match(mail.html, /<!doctype html>/);
    assert.ok(EXPIRES - START === 31 * DAY);
  });

  test('without SMTP_URL the log transport logs at debug level only, and never the address, the body or the link', async () => {
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } });
    const token = 'v1.Y3VzX2FiYw.1900000000.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE';
    const link = `http://subgate.test/billing/update-card?token=${token}`;
    const mail = {
      to: 'reader@example.test',
      subject: 'Your card expires soon',
      text: `Dear reader, update your card: ${link}`,
      html: `<p>Dear reader, <a href="${link}">update your card</a></p>`,
      messageId: '<notice-x@gazette.test>',
      headers: { 'X-Subgate-Notice': 'card_expiring' },
    };

    const infoMailer = createMailer({ smtpUrl: undefined, from: 'A <a@gazette.test>', logger: pino({ level: 'info' }, stream) });
    const sent = await infoMailer.send(mail);
    assert.equal(infoMailer.transport, 'log');
    assert.equal(sent.response, 'logged');
    assert.equal(sent.messageId, '<notice-x@gazette.test>');
    assert.equal(lines.length, 0, 'nothing at info');

    const debugMailer = createMailer({ smtpUrl: undefined, from: 'A <a@gazette.test>', logger: pino({ level: 'debug' }, stream) });
    await debugMailer.send(mail);
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line.messageId, '<notice-x@gazette.test>');
    assert.equal(line.notice, 'card_expiring');
    assert.equal(line.subject, 'Your card expires soon');
    assert.equal(line.to, 'r***@example.test');
    for (const secret of ['reader@example.test', token, token.slice(-20), 'billing/update-card', 'Dear reader', '<p>']) {
      assert.ok(!lines[0]!.includes(secret), `${secret} is not logged`);
    }
  });
});
