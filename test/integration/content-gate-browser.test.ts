/**
 * Issue 4's story through real pages in a real browser (Debian's Chromium, headless, driven by
 * playwright-core): anonymous -> "log in"; a reader without a subscription -> "subscribe"; Ada subscribes
 * (signed webhook) -> reads; her card expires -> "make sure your card on file is up to date" with the
 * button -> subgate's update-card link -> the Stripe double's portal -> back through subgate -> reads again.
 * The example site's client caches answers for 10 minutes, so every change the reader sees arrived by the
 * live event stream. Screenshots go to test-artifacts/content-gate/ (git-ignored).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSkip, launchChromium, type HeadlessChromium } from '../support/browser.js';
import { startContentGateStack, type ContentGateStack } from '../../examples/content-service/stack.js';
import { testRedisUrl, waitFor } from '../support/redis.js';

const SHOTS = join(process.cwd(), 'test-artifacts', 'content-gate');

describe('the paywalled site in a browser', { skip: browserSkip }, () => {
  let stack: ContentGateStack;
  let browser: BrowserContext;
  let page: Page;
  let chrome: HeadlessChromium | undefined;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    stack = await startContentGateStack({ redisUrl: testRedisUrl() });
    chrome = await launchChromium();
    browser = chrome.context;
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await chrome?.close();
    await stack?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const paywall = () => page.locator('[data-paywall]').getAttribute('data-paywall');
  const article = () => `${stack.siteUrl}/articles/harbour-lights`;

  /** Reloads the article until the page shows what we expect (the change travels webhook -> worker -> stream -> client). */
  async function articleShows(what: 'body' | string): Promise<void> {
    await waitFor(
      async () => {
        await page.goto(article());
        if (what === 'body') return (await page.locator('[data-article-body]').count()) === 1;
        return (await page.locator(`[data-paywall="${what}"]`).count()) === 1;
      },
      { timeoutMs: 15_000, intervalMs: 100, message: `the article to show ${what}` },
    );
  }

  test('log in -> subscribe -> read -> card expires -> update card through the portal -> read again', async () => {
    // Anonymous: teaser and "log in".
    await page.goto(article());
    assert.equal(await page.locator('[data-headline]').textContent(), 'The harbour that keeps its lights on by hand');
    assert.ok(((await page.locator('[data-teaser]').textContent()) ?? '').startsWith('Every evening at dusk'));
    assert.equal(await paywall(), 'log-in');
    assert.equal(await page.locator('[data-article-body]').count(), 0);
    await shot('01-anonymous-log-in');

    // Ben signs in from the paywall: no subscription -> "subscribe".
    await page.click('[data-log-in]');
    await page.click('[data-pick="reader-ben"]');
    await page.waitForURL(article());
    assert.equal(await page.locator('[data-reader]').getAttribute('data-reader'), 'reader-ben');
    assert.equal(await paywall(), 'subscribe');
    await shot('02-signed-in-no-subscription');
    await page.click('[data-subscribe]');
    assert.equal(await page.locator('[data-subscribe-page]').count(), 1);
    await page.click('[data-signout]');

    // Ada, before she subscribes, is asked to subscribe too; then she subscribes and reads.
    await page.goto(`${stack.siteUrl}/signin?next=/articles/harbour-lights`);
    await page.click('[data-pick="reader-ada"]');
    await page.waitForURL(article());
    assert.equal(await paywall(), 'subscribe');
    const sub = await stack.subscribe('reader-ada');
    await articleShows('body');
    assert.match((await page.locator('[data-article-body]').textContent()) ?? '', /heritage asset/);
    await shot('03-subscriber-reads');

    // Her card expires: the paywall asks her to update it, with the button.
    await stack.expireCard(sub);
    await articleShows('update-card');
    assert.equal(await page.locator('[data-paywall] h2').textContent(), 'Make sure your card on file is up to date');
    const button = page.locator('[data-update-card]');
    assert.equal(await button.textContent(), 'Update your card');
    assert.ok((await button.getAttribute('href'))!.startsWith(`${stack.subgateUrl}/billing/update-card?token=`));
    await shot('04-card-expired-update-button');

    // The button -> subgate -> the (double's) Stripe portal, on the card-update flow.
    await button.click();
    await page.waitForURL((url) => url.href.startsWith(`${stack.h.stripe.url}/portal/`));
    assert.equal(await page.locator('h1').textContent(), 'Update your card');
    assert.equal(await page.locator('[data-customer]').textContent(), sub.customerId);
    assert.equal(await page.locator('[data-flow]').textContent(), 'payment_method_update');
    await shot('05-portal');

    // She saves a new card there and goes back: subgate re-reads Stripe, then sends her to the site.
    await stack.replaceCard(sub, { webhook: false });
    await page.click('[data-return]');
    await page.waitForURL(`${stack.siteUrl}/account`);
    assert.equal(await page.locator('[data-account]').count(), 1);
    await shot('06-back-on-the-site');

    // And the article is hers again, though the site's cached "card expired" answer has not timed out.
    await articleShows('body');
    assert.equal(await page.locator('[data-paywall]').count(), 0);
    await shot('07-reads-again');
    assert.ok(stack.client.stats().invalidated >= 2, 'the cache was emptied by change events, not by the TTL');
  });
});
