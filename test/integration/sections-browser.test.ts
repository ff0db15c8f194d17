/**
 * The site sold by section, in a real browser (Debian's Chromium, headless, playwright-core), subgate
 * configured with features (ACCESS_FEATURES_SOURCE=config): Pia has only Puzzles, so News asks her to
 * subscribe to News while Puzzles opens; Nora's News card expires while her Puzzles, paid by another card,
 * stays open. The site's client caches answers for 10 minutes: what changes arrives by the change feed,
 * per feature. Screenshots go to test-artifacts/sections/ (git-ignored).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSkip, launchChromium, type HeadlessChromium } from '../support/browser.js';
import { startSectionsStack, type SectionsStack } from '../../examples/content-service/sections-stack.js';
import { testRedisUrl, waitFor } from '../support/redis.js';

const SHOTS = join(process.cwd(), 'test-artifacts', 'sections');

describe('a site sold by section, in a browser', { skip: browserSkip }, () => {
  let stack: SectionsStack;
  let browser: BrowserContext;
  let page: Page;
  let chrome: HeadlessChromium | undefined;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    stack = await startSectionsStack({ redisUrl: testRedisUrl() });
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
  const news = () => `${stack.siteUrl}/news/harbour-lights`;
  const puzzles = () => `${stack.siteUrl}/puzzles/harbour-crossword`;

  async function signInAs(reader: string) {
    await page.goto(`${stack.siteUrl}/signin?next=/`);
    await page.click(`[data-pick="${reader}"]`);
    await page.waitForURL(`${stack.siteUrl}/`);
    assert.equal(await page.locator('[data-reader]').getAttribute('data-reader'), reader);
  }

  /** Opens the page until it shows what we expect (a change travels webhook/job -> worker -> feed -> client). */
  async function shows(url: string, what: 'body' | string) {
    await waitFor(
      async () => {
        await page.goto(url);
        if (what === 'body') return (await page.locator('[data-article-body]').count()) === 1;
        return (await page.locator(`[data-paywall="${what}"]`).count()) === 1;
      },
      { timeoutMs: 15_000, intervalMs: 100, message: `${url} to show ${what}` },
    );
  }

  test('Pia has only Puzzles: News says "Subscribe to News", Puzzles opens', async () => {
    await signInAs('reader-pia');
    assert.deepEqual(await page.locator('[data-section] h2').allTextContents(), ['News', 'Puzzles']);
    await stack.subscribePia();
    await shows(puzzles(), 'body');
    assert.match((await page.locator('[data-article-body]').textContent()) ?? '', /LAMPS/);
    await shot('01-pia-reads-puzzles');
    await page.goto(news());
    assert.equal(await page.locator('[data-paywall]').getAttribute('data-paywall'), 'subscribe');
    assert.equal(await page.locator('[data-paywall] h2').textContent(), 'Subscribe to News');
    assert.equal(await page.locator('[data-subscribe]').textContent(), 'Subscribe to News');
    assert.equal(await page.locator('[data-article-body]').count(), 0);
    await shot('02-pia-news-subscribe');
    await page.click('[data-signout]');
  });

  test('Nora\'s News card expires: News asks for a new card, Puzzles on the other card stays open', async () => {
    await signInAs('reader-nora');
    const nora = await stack.subscribeNora();
    await shows(news(), 'body');
    await shows(puzzles(), 'body');
    await shot('03-nora-reads-both');
    const invalidatedBefore = stack.client.stats().invalidated;

    await stack.expireNoraNewsCard(nora);
    await shows(news(), 'update-card');
    assert.equal(await page.locator('[data-paywall] h2').textContent(), 'Make sure your card on file is up to date');
    assert.ok((await page.locator('[data-update-card]').getAttribute('href'))!.includes('/billing/update-card?token='));
    await shot('04-nora-news-card-expired');
    // Puzzles is still open, from the cache: its answer did not change, so nothing dropped it.
    const requestsBefore = stack.client.stats().requests;
    await page.goto(puzzles());
    assert.equal(await page.locator('[data-article-body]').count(), 1);
    assert.equal(stack.client.stats().requests, requestsBefore, 'puzzles answered from the cache');
    assert.ok(stack.client.stats().invalidated > invalidatedBefore, 'the news answer was dropped by a change event');
    await shot('05-nora-puzzles-still-open');
  });
});
