/**
 * The operator's view in a real browser (Debian's Chromium through playwright-core): the login page, a
 * login with ADMIN_TOKEN, finding a reader by e-mail, reading their story after an expired card and its
 * fix, the recovery funnel, Bull Board behind the same session (no bearer header anywhere), and logout.
 * subgate's pages report no Content-Security-Policy violation. Screenshots go to
 * test-artifacts/admin/ (git-ignored).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSkip, launchChromium, type HeadlessChromium } from '../support/browser.js';
import { ADMIN_TOKEN, createOpsHarness, type OpsHarness } from '../support/ops-harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { DAY, finished, linkIn, mailsTo, promote, replaceCard, seedSubscriber, settleExpiry } from '../support/card-scenarios.js';
import { waitFor } from '../support/redis.js';
import { failedChargeFixture } from '../fixtures/charges.js';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';

const SHOTS = join(process.cwd(), 'test-artifacts', 'admin');
const EXPIRES = cardExpiresAt(7, 2028);
const EMAIL = 'grace.hopper@example.com';

describe('the operator\'s view in a browser', { skip: browserSkip }, () => {
  let o: OpsHarness;
  let sink: SmtpSink;
  let server: Server;
  let origin: string;
  let browser: BrowserContext;
  let page: Page;
  let chrome: HeadlessChromium | undefined;
  let customerId: string;
  const consoleLines: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    sink = await startSmtpSink();
    server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    o = await createOpsHarness({
      label: 'admin-browser',
      clockStart: EXPIRES - 3_600_000,
      opsWorkers: false,
      cardExpiry: { smtpUrl: sink.url, noticeDays: [30, 7], publicBaseUrl: origin },
    });
    server.on('request', o.app);

    // Grace's story, before the operator looks: her card expires, a renewal is declined, she gets the
    // e-mail, follows the link two days later, saves a new card in the portal and comes back.
    const sub = await seedSubscriber(o.h, { exp_month: 7, exp_year: 2028, last4: '5904', brand: 'mastercard', user: 'reader-grace', email: EMAIL });
    customerId = sub.customerId;
    await settleExpiry(o.h);
    o.h.clock.set(EXPIRES);
    const expireId = `expire-${sub.customerId}-${sub.pmId}-${EXPIRES}`;
    await promote(o.h, expireId);
    await finished(o.h, expireId);
    const decline = o.h.stripe.makeEvent(
      'charge.failed',
      failedChargeFixture({ customer: sub.customerId, paymentMethod: sub.pmId, failureCode: 'expired_card', reason: 'expired_card', card: { brand: 'mastercard', last4: '5904', exp_month: 7, exp_year: 2028 } }),
    );
    assert.equal((await o.deliver(decline)).status, 200);
    await settleExpiry(o.h);
    await waitFor(() => mailsTo(sink, EMAIL).some((m) => /has expired/.test(m.subject)), { message: 'the expired notice' });
    o.h.clock.advance(2 * DAY);
    const mail = mailsTo(sink, EMAIL).find((m) => /has expired/.test(m.subject))!;
    assert.equal((await request(o.app).get(linkIn(mail.text))).status, 303);
    const portalPage = await fetch(o.h.stripe.portalSessions.at(-1)!.session.url).then((r) => r.text());
    const back = new URL(/href="([^"]+)" data-return/.exec(portalPage)![1]!.replace(/&#38;/g, '&'));
    replaceCard(o.h, sub.customerId, { exp_month: 7, exp_year: 2032, last4: '0005' });
    assert.equal((await request(o.app).get(back.pathname + back.search)).status, 303);
    await settleExpiry(o.h);
    await waitFor(async () => (await o.h.api.timeline.read(customerId)).filter((e) => e.kind === 'notice').length >= 3, { message: 'the notices on the timeline' });
    chrome = await launchChromium();
    browser = chrome.context;
    page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    await page.addInitScript({
      content: `window.__violations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.effectiveDirective + ' ' + e.blockedURI));`,
    });
    // Nothing leaves for another host (Bull Board's web-font stylesheet); no header is added to anything.
    await page.route('**/*', (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort()));
  });
  after(async () => {
    await chrome?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await o?.close();
    await sink?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const violations = () => page.evaluate<string[]>('window.__violations.slice()');

  test('log in, find Grace by e-mail, read her story, the funnel, Bull Board, log out', async () => {
    // No session: the login page, and no data.
    const first = await page.goto(`${origin}/admin/customers/${customerId}`);
    assert.equal(first?.status(), 401);
    assert.equal(await page.locator('h1').textContent(), 'Log in');
    assert.equal(await page.locator('#timeline').count(), 0);
    await shot('01-login');

    // A wrong token: the login page again.
    await page.fill('input[name="token"]', 'not-the-admin-token');
    await page.click('button[type="submit"]');
    assert.match((await page.locator('.error').textContent()) ?? '', /not the admin token/);

    // The right one: back to where the browser was going.
    await page.fill('input[name="token"]', ADMIN_TOKEN);
    await Promise.all([page.waitForURL(`${origin}/admin/customers/${customerId}`), page.click('button[type="submit"]')]);
    const cookie = (await browser.cookies(`${origin}/admin`)).find((c) => c.name === 'subgate_admin');
    assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(cookie?.sameSite, 'Strict');

    // Search by e-mail from the home page.
    await page.goto(`${origin}/admin`);
    await shot('02-search');
    await page.fill('input[name="q"]', EMAIL.toUpperCase());
    await Promise.all([page.waitForURL(`${origin}/admin/customers/${customerId}`), page.click('main button[type="submit"]')]);

    // Her story: access back, why, and each chapter.
    assert.equal(await page.locator('[data-answer]').getAttribute('data-answer'), 'active');
    assert.match((await page.locator('[data-answer]').textContent()) ?? '', /Has access: the subscription is active and paid/);
    assert.match((await page.locator('main').textContent()) ?? '', /g\*\*\*@example\.com/);
    const story = (await page.locator('#timeline').textContent()) ?? '';
    for (const chapter of [
      /Card flagged expired \(schedule\)/,
      /Entitlement changed: access \(active, subscribed\) -> no access \(card_expired, card_expired\)/,
      /Stripe event charge\.failed received/,
      /Notice card_expired sent/,
      /Opened the update-card link/,
      /Billing Portal session opened/,
      /Came back from the Billing Portal/,
      /New card on file: mastercard ·0005/,
      /Entitlement changed: no access \(card_expired, card_expired\) -> access \(active, subscribed\)/,
      /Notice access_restored sent/,
    ]) {
      assert.match(story, chapter);
    }
    assert.doesNotMatch(await page.content(), /grace\.hopper@|update-card\?token=/);
    await shot('03-reader-story');

    // The funnel: Grace's expired card, all the way to access restored, in two days.
    await page.click('a[href="/admin/recovery"]');
    const expired = page.locator('#funnel-totals tr[data-problem="expired"]');
    assert.equal(await expired.locator('td[data-step="detected"]').textContent(), '1');
    assert.equal(await expired.locator('td[data-step="restored"]').textContent(), '1 (100%)');
    assert.equal(await expired.locator('td[data-median]').textContent(), '2.0 days');
    assert.equal(await page.locator('svg[aria-label="Recovery funnel by problem"]').count(), 1);
    await shot('04-recovery-funnel');
    assert.deepEqual(await violations(), []);

    // Bull Board, on the session alone.
    const board = await page.goto(`${origin}/admin/queues`);
    assert.equal(board?.status(), 200);
    for (const queue of ['stripe-events', 'customer-sync', 'card-expiry', 'notices']) await page.getByText(queue, { exact: true }).first().waitFor();
    await page.waitForLoadState('networkidle');
    assert.deepEqual(await violations(), []);
    await shot('05-bull-board');

    // Logout, then the same page is the login page again.
    await page.goto(`${origin}/admin`);
    await Promise.all([page.waitForURL(`${origin}/admin/login`), page.click('header button[type="submit"]')]);
    const after = await page.goto(`${origin}/admin/customers/${customerId}`);
    assert.equal(after?.status(), 401);
    assert.equal(await page.locator('#timeline').count(), 0);
    await shot('06-logged-out');
    assert.deepEqual(consoleLines.filter((line) => /Content[- ]Security[- ]Policy|Refused to/i.test(line)), []);
  });
});
