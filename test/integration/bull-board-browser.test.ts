/**
 * Bull Board at /admin/queues in a real browser (Debian's Chromium through playwright-core, as the
 * content-gate test drives it): under the Content-Security-Policy subgate sends, its UI loads, renders
 * every queue, and the browser reports no policy violation; subgate's own page keeps its styling under
 * its hash-only policy. The admin bearer header is added to requests
 * for the app only; anything outside it (the UI's web-font stylesheet) is cut off, never sent the token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSkip, launchChromium, type HeadlessChromium } from '../support/browser.js';
import { ADMIN_TOKEN, createOpsHarness, type OpsHarness } from '../support/ops-harness.js';


describe('Bull Board in a browser, under its Content-Security-Policy', { skip: browserSkip }, () => {
  let o: OpsHarness;
  let server: Server;
  let origin: string;
  let browser: BrowserContext;
  let page: Page;
  let chrome: HeadlessChromium | undefined;
  const consoleLines: string[] = [];

  before(async () => {
    o = await createOpsHarness({ label: 'board-browser', opsWorkers: false, workers: false, cardExpiry: {} });
    server = createServer(o.app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    chrome = await launchChromium();
    browser = chrome.context;
    page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (err) => consoleLines.push(`pageerror: ${err.message}`));
    // Collected in the page itself: the event fires for every blocked load, inline style or script.
    // (Page-side code is given as source text: the test project compiles without the DOM types.)
    await page.addInitScript({
      content: `window.__violations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.effectiveDirective + ' ' + e.blockedURI));`,
    });
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (!url.startsWith(`${origin}/`)) return route.abort();
      return route.continue({ headers: { ...route.request().headers(), authorization: `Bearer ${ADMIN_TOKEN}` } });
    });
  });
  after(async () => {
    await chrome?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await o?.close();
  });

  const violations = () => page.evaluate<string[]>('window.__violations.slice()');

  test('the board renders every queue, and the browser reports no policy violation', async () => {
    const response = await page.goto(`${origin}/admin/queues`);
    assert.equal(response?.status(), 200);
    assert.match((await response?.headerValue('content-security-policy')) ?? '', /frame-ancestors 'none'/);
    for (const queue of ['stripe-events', 'customer-sync', 'card-expiry', 'notices', 'resync', 'event-recovery']) {
      await page.getByText(queue, { exact: true }).first().waitFor();
    }
    await page.waitForLoadState('networkidle');
    assert.deepEqual(await violations(), []);
    assert.deepEqual(consoleLines.filter((line) => /Content[- ]Security[- ]Policy|Refused to/i.test(line)), []);
  });

  test("subgate's own page keeps its styling under its hash-only policy", async () => {
    const response = await page.goto(`${origin}/billing/update-card?token=garbage`);
    assert.equal(response?.status(), 400);
    assert.equal(await page.locator('h1').textContent(), 'This link does not work');
    assert.match(await page.evaluate<string>('getComputedStyle(document.body).fontFamily'), /Georgia/, 'the <style> element applied');
    assert.equal(await page.evaluate<string>("getComputedStyle(document.querySelector('.publisher')).color"), 'rgb(102, 102, 102)');
    assert.deepEqual(await violations(), []);
  });

  test('the collector does see a violation (so the empty list above means something)', async () => {
    await page.evaluate("document.body.append(Object.assign(document.createElement('img'), { src: 'http://127.0.0.2/pixel.png' }))");
    await page.waitForFunction('window.__violations.length > 0');
    assert.match((await violations()).join('\n'), /img-src http:\/\/127\.0\.0\.2\/pixel\.png/);
  });
});
