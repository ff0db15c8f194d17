/**
 * A reader's story as an operator reads it: an expiring card, its expiry, the decline, the notices (with
 * the SMTP server's answer), the link, the portal, the return and access back, each on the reader's
 * timeline in order; the customer page says the answer and why in words, masks the address and carries no
 * link token; search finds the reader by e-mail and by user id; the timeline stays within its bounds; and
 * the recovery funnel counted each step once, with the time to restore.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { ADMIN_TOKEN, createOpsHarness, type OpsHarness } from '../support/ops-harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { DAY, finished, linkIn, mailsTo, promote, replaceCard, seedSubscriber, settleExpiry } from '../support/card-scenarios.js';
import { waitFor } from '../support/redis.js';
import { failedChargeFixture } from '../fixtures/charges.js';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';
import { ADMIN_COOKIE } from '../../src/http/admin-session.js';
import { createCustomerTimeline } from '../../src/store/customer-timeline.js';
import { createRecoveryFunnelStore } from '../../src/store/recovery-funnel.js';
import type { TimelineKind } from '../../src/store/customer-timeline.js';

const EXPIRES = cardExpiresAt(7, 2028);
const HTML = 'text/html';

describe('a reader\'s story', () => {
  let o: OpsHarness;
  let sink: SmtpSink;
  let origin: string;

  before(async () => {
    sink = await startSmtpSink();
    o = await createOpsHarness({ label: 'story', clockStart: EXPIRES - 3_600_000, opsWorkers: false, cardExpiry: { smtpUrl: sink.url, noticeDays: [30, 7] } });
    origin = new URL(o.h.config.publicBaseUrl).origin;
  });
  after(async () => {
    await o.close();
    await sink.close();
  });

  /** A fresh session each time: the story moves the clock past a session's life. */
  async function login(): Promise<string> {
    const res = await request(o.app).post('/admin/login').set('Origin', origin).type('form').send({ token: ADMIN_TOKEN });
    const cookie = String([res.headers['set-cookie']].flat()[0]).split(';')[0]!;
    assert.ok(cookie.startsWith(`${ADMIN_COOKIE}=`));
    return cookie;
  }
  const page = async (path: string, cookie?: string) => request(o.app).get(path).set('Accept', HTML).set('Cookie', cookie ?? (await login()));
  const kinds = async (customerId: string) => (await o.h.api.timeline.read(customerId)).map((e) => e.kind).reverse();

  test('expiring -> expired -> declined -> notices -> link -> portal -> return -> restored, told on the timeline and the page', async () => {
    const sub = await seedSubscriber(o.h, { exp_month: 7, exp_year: 2028, last4: '5904', brand: 'mastercard', user: 'reader-story', email: 'ada.lovelace@example.com' });
    await settleExpiry(o.h);
    await waitFor(() => mailsTo(sink, sub.email).length === 1, { message: 'the 7-day notice' });

    o.h.clock.set(EXPIRES);
    const expireId = `expire-${sub.customerId}-${sub.pmId}-${EXPIRES}`;
    await promote(o.h, expireId);
    assert.deepEqual(await finished(o.h, expireId), { outcome: 'flagged', source: 'schedule' });
    const decline = o.h.stripe.makeEvent(
      'charge.failed',
      failedChargeFixture({ customer: sub.customerId, paymentMethod: sub.pmId, failureCode: 'expired_card', reason: 'expired_card', card: { brand: 'mastercard', last4: '5904', exp_month: 7, exp_year: 2028 } }),
    );
    assert.equal((await o.deliver(decline)).status, 200);
    await settleExpiry(o.h);
    await waitFor(() => mailsTo(sink, sub.email).some((m) => /has expired/.test(m.subject)), { message: 'the expired notice' });

    // Two days later the reader follows the link, saves a new card in the portal and comes back.
    o.h.clock.advance(2 * DAY);
    const mail = mailsTo(sink, sub.email).find((m) => /has expired/.test(m.subject))!;
    const opened = await request(o.app).get(linkIn(mail.text));
    assert.equal(opened.status, 303);
    const portalPage = await fetch(o.h.stripe.portalSessions.at(-1)!.session.url).then((r) => r.text());
    const back = new URL(/href="([^"]+)" data-return/.exec(portalPage)![1]!.replace(/&#38;/g, '&'));
    replaceCard(o.h, sub.customerId, { exp_month: 7, exp_year: 2032, last4: '0005' });
    assert.equal((await request(o.app).get(back.pathname + back.search)).status, 303);
    await settleExpiry(o.h);
    await waitFor(() => mailsTo(sink, sub.email).some((m) => /active again/.test(m.subject)), { message: 'the access-restored notice' });

    // The timeline, oldest first, has every chapter (listeners record after each job; wait for the last).
    await waitFor(async () => (await kinds(sub.customerId)).filter((k) => k === 'notice').length >= 3, { message: 'three notice entries' });
    const story = await kinds(sub.customerId);
    const firstOf = (kind: TimelineKind) => story.indexOf(kind);
    for (const kind of ['refresh', 'entitlement', 'card_expiry', 'notice', 'card_flag', 'event', 'link_opened', 'portal_session', 'returned'] as const) {
      assert.ok(firstOf(kind) >= 0, `${kind} is on the timeline (${story.join(', ')})`);
    }
    assert.ok(firstOf('card_flag') < firstOf('link_opened') && firstOf('link_opened') < firstOf('portal_session') && firstOf('portal_session') < firstOf('returned'));
    const entries = await o.h.api.timeline.read(sub.customerId);
    const sent = entries.filter((e) => e.kind === 'notice' && e.fields.outcome === 'sent');
    assert.equal(sent.length, 3, 'expiring, expired, access restored');
    for (const entry of sent) {
      assert.match(String(entry.fields.message_id), /^<notice\.[0-9a-f]{32}@gazette\.test>$/);
      assert.match(String(entry.fields.smtp_response), /^250/);
    }
    const event = entries.find((e) => e.kind === 'event')!;
    assert.equal(event.fields.event, decline.id);
    assert.equal(event.fields.type, 'charge.failed');
    const changes = entries.filter((e) => e.kind === 'entitlement').map((e) => e.fields.status).reverse();
    assert.deepEqual(changes, ['active', 'card_expired', 'active']);
    assert.ok(entries.some((e) => e.kind === 'refresh' && /New card on file: mastercard ·0005/.test(e.text)));
    const everything = JSON.stringify(entries);
    assert.ok(!everything.includes('ada.lovelace@example.com'), 'no address on the timeline');
    assert.ok(!/token=|v1\.[A-Za-z0-9_-]{10,}\./.test(everything), 'no link token on the timeline');

    // The page: the answer in words, masked address, the story, nothing to act as the reader with.
    const res = await page(`/admin/customers/${sub.customerId}`);
    assert.equal(res.status, 200);
    assert.match(res.text, /data-answer="active"/);
    assert.match(res.text, /Has access: the subscription is active and paid\./);
    assert.match(res.text, /a\*\*\*@example\.com/);
    assert.ok(!res.text.includes('ada.lovelace@example.com'));
    assert.ok(!/update-card\?token=|billing\/return/.test(res.text));
    assert.match(res.text, /Card flagged expired \(schedule\)/);
    assert.match(res.text, /Entitlement changed: access \(active, subscribed\) -&#62; no access \(card_expired, card_expired\)/);
    assert.match(res.text, /Notice card_expired sent/);
    assert.match(res.text, /Billing Portal session opened/);
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);

    // Search: by e-mail (any case) and by user id lead to the page; nobody found is a 404 page.
    const byEmail = await page(`/admin/search?q=${encodeURIComponent('Ada.Lovelace@Example.com')}`);
    assert.equal(byEmail.status, 303);
    assert.equal(byEmail.headers.location, `/admin/customers/${sub.customerId}`);
    const byUser = await page('/admin/search?q=reader-story');
    assert.equal(byUser.headers.location, `/admin/customers/${sub.customerId}`);
    const byId = await page(`/admin/search?q=${sub.customerId}`);
    assert.equal(byId.headers.location, `/admin/customers/${sub.customerId}`);
    const nobody = await page(`/admin/search?q=${encodeURIComponent('nobody@example.com')}`);
    assert.equal(nobody.status, 404);
    assert.match(nobody.text, /n\*\*\*@example\.com/);
    assert.equal((await page('/admin/search?q=')).status, 400);
    assert.equal((await page(`/admin/search?q=${'x'.repeat(400)}`)).status, 400);

    // The funnel: the expiring episode got as far as its notice; the expired one went all the way, in 2 days.
    const [day] = await o.h.api.funnel.read([new Date(EXPIRES).toISOString().slice(0, 10)]).then((d) => d.filter((f) => f.problem === 'expired'));
    assert.deepEqual(day!.counts, { detected: 1, notice_sent: 1, link_opened: 1, portal_session: 1, card_updated: 1, restored: 1 });
    assert.equal(day!.medianRestoreMs, 2 * DAY);
    const expiringDay = (await o.h.api.funnel.read([new Date(EXPIRES - 3_600_000).toISOString().slice(0, 10)])).find((f) => f.problem === 'expiring')!;
    assert.deepEqual([expiringDay.counts.detected, expiringDay.counts.notice_sent, expiringDay.counts.restored], [1, 1, 0]);

    // The funnel page shows those figures with conversions and the median; its chart is inline SVG.
    const funnel = await page('/admin/recovery?days=30');
    assert.equal(funnel.status, 200);
    const expiredRow = /<tr data-problem="expired">(.*?)<\/tr>/s.exec(funnel.text)![1]!;
    assert.match(expiredRow, /data-step="detected">1</);
    assert.match(expiredRow, /data-step="restored">1 <span class="muted">\(100%\)/);
    assert.match(expiredRow, /data-median>2\.0 days</);
    const expiringRow = /<tr data-problem="expiring">(.*?)<\/tr>/s.exec(funnel.text)![1]!;
    assert.match(expiringRow, /data-step="link_opened">0 <span class="muted">\(0%\)/);
    assert.match(funnel.text, /<svg [^>]*aria-label="Recovery funnel by problem"/);
    assert.match(funnel.text, /<rect [^>]*data-step="restored" data-count="1"/);
    assert.doesNotMatch(funnel.text, /<script/);
    assert.equal((await page('/admin/recovery?days=0')).status, 400);
    assert.equal((await page('/admin/recovery?days=abc')).status, 400);
    const anonymous = await request(o.app).get('/admin/recovery').set('Accept', HTML);
    assert.equal(anonymous.status, 401);
    assert.doesNotMatch(anonymous.text, /data-problem/);

    // The API process counted the steps that happened in it (link, portal, card, restore) and the time.
    const metrics = await request(o.app).get('/metrics');
    assert.match(metrics.text, /subgate_recovery_funnel_steps_total\{problem="expired",step="link_opened"\} 1/);
    assert.match(metrics.text, /subgate_recovery_funnel_steps_total\{problem="expired",step="restored"\} 1/);
    assert.match(metrics.text, /subgate_recovery_restore_seconds_bucket\{le="86400",problem="expired"\} 0/);
    assert.match(metrics.text, /subgate_recovery_restore_seconds_bucket\{le="259200",problem="expired"\} 1/);
  });

  test('the customer page and the refresh form: wrong id, unknown reader, CSRF', async () => {
    assert.equal((await page('/admin/customers/acct_1')).status, 400);
    const unknown = await page('/admin/customers/cus_nobody0000');
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /holds no projection/);
    const sub = await seedSubscriber(o.h, { exp_month: 1, exp_year: 2031, user: 'reader-form' });
    const cookie = await login();
    const html = (await page(`/admin/customers/${sub.customerId}`, cookie)).text;
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const post = (body: Record<string, string>, from = origin) =>
      request(o.app).post(`/admin/customers/${sub.customerId}/refresh`).set('Cookie', cookie).set('Origin', from).type('form').send(body);
    assert.equal((await post({})).status, 403);
    const oversized = await post({ csrf, pad: 'x'.repeat(4096) });
    assert.equal(oversized.status, 413);
    assert.equal(oversized.body.error.code, 'payload_too_large');
    assert.equal((await post({ csrf }, 'https://evil.example')).status, 403);
    const ok = await post({ csrf });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.location, `/admin/customers/${sub.customerId}`);
    await waitFor(async () => (await o.h.api.timeline.read(sub.customerId)).some((e) => e.kind === 'operator'), { message: 'the operator entry' });
    // Scripts use the bearer header (no CSRF: no cookie to ride on).
    const scripted = await o.admin('post', `/admin/customers/${sub.customerId}/refresh`).type('form').send({});
    assert.equal(scripted.status, 303);
  });

  test('the funnel counts each step once per episode; a step without an open episode counts nothing', async () => {
    const funnel = createRecoveryFunnelStore({ redis: o.h.apiRedis, prefix: `${o.h.prefix}-funnel` });
    const at = Date.UTC(2030, 0, 5, 10);
    assert.equal(await funnel.step('cus_f1', 'link_opened', at), null, 'no episode: nothing counted');
    assert.equal((await funnel.detect('cus_f1', 'failed_payment', at))?.step, 'detected');
    assert.equal(await funnel.detect('cus_f1', 'failed_payment', at + 1), null, 'already open');
    assert.equal(await funnel.detect('cus_f1', 'expiring', at + 1), null, 'a milder problem does not replace it');
    assert.equal((await funnel.step('cus_f1', 'link_opened', at + 10))?.sinceDetectedMs, 10);
    assert.equal(await funnel.step('cus_f1', 'link_opened', at + 20), null, 'counted once');
    assert.equal((await funnel.step('cus_f1', 'restored', at + 3_600_000))?.sinceDetectedMs, 3_600_000);
    assert.equal(await funnel.step('cus_f1', 'card_updated', at + 3_600_001), null, 'a restored episode is closed');
    // The next problem, days later, is a new episode on its own day.
    assert.equal((await funnel.detect('cus_f1', 'failed_payment', at + 3 * DAY))?.day, '2030-01-08');
    const [first] = (await funnel.read(['2030-01-05'])).filter((d) => d.problem === 'failed_payment');
    assert.deepEqual(first!.counts, { detected: 1, notice_sent: 0, link_opened: 1, portal_session: 0, card_updated: 0, restored: 1 });
    assert.equal(first!.medianRestoreMs, 3_600_000);
    const keys = await o.h.apiRedis.keys(`${o.h.prefix}-funnel:*`);
    if (keys.length > 0) await o.h.apiRedis.del(...keys);
  });

  test('the timeline keeps at most its size and nothing older than its age', async () => {
    const timeline = createCustomerTimeline({ redis: o.h.apiRedis, prefix: `${o.h.prefix}-bounds`, clock: o.h.clock, maxEntries: 5, maxAgeMs: 10 * DAY });
    const start = o.h.clock.now();
    for (let i = 0; i < 12; i++) await timeline.record('cus_bounds', { kind: 'operator', text: `entry ${i}`, at: start + i });
    const kept = await timeline.read('cus_bounds');
    assert.deepEqual(kept.map((e) => e.text), ['entry 11', 'entry 10', 'entry 9', 'entry 8', 'entry 7']);
    o.h.clock.advance(11 * DAY);
    await timeline.record('cus_bounds', { kind: 'operator', text: 'much later' });
    assert.deepEqual((await timeline.read('cus_bounds')).map((e) => e.text), ['much later']);
    // A clock that steps back still appends, after the newest entry.
    o.h.clock.advance(-DAY);
    await timeline.record('cus_bounds', { kind: 'operator', text: 'clock stepped back' });
    assert.equal((await timeline.read('cus_bounds'))[0]!.text, 'clock stepped back');
    const ttl = await o.h.apiRedis.pttl(`${o.h.prefix}-bounds:timeline:cus_bounds`);
    assert.ok(ttl > 9 * DAY && ttl <= 10 * DAY, `the key expires with its age (${ttl})`);
    await o.h.apiRedis.del(`${o.h.prefix}-bounds:timeline:cus_bounds`);
    o.h.clock.advance(-10 * DAY);
  });
});
