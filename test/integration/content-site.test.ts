/**
 * The example site's gate without a browser: requireEntitlement sets req.entitlement and the page
 * renders the variant by status, escaping whatever subgate (or a cookie) hands it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createContentSite } from '../../examples/content-service/site.js';
import type { EntitlementCheck } from '@subgate/client';

const readers = [{ id: 'r-1', name: 'Eve <script>', blurb: '' }];
const site = (answer: EntitlementCheck) => {
  const asked: string[] = [];
  const app = createContentSite({
    readers,
    entitlements: {
      checkUser: async (user) => {
        asked.push(user);
        return answer;
      },
    },
  });
  return { app, asked };
};
const article = (app: ReturnType<typeof site>['app'], cookie?: string) => {
  const req = request(app).get('/articles/night-bus-library');
  return cookie ? req.set('Cookie', cookie) : req;
};

const unavailable: EntitlementCheck = { entitled: false, status: 'unavailable', source: 'unavailable', customer: null, user: 'r-1', update_card_url: null, message: 'x', error: 'TypeError: fetch failed' };

test('an anonymous visitor is asked to log in, and subgate is not asked', async () => {
  const { app, asked } = site(unavailable);
  const res = await article(app);
  assert.equal(res.status, 200);
  assert.match(res.text, /data-paywall="log-in"/);
  assert.doesNotMatch(res.text, /data-article-body/);
  assert.deepEqual(asked, []);
});

test('when subgate cannot be reached the reader is told to retry, not shown the article (fail closed)', async () => {
  const { app, asked } = site(unavailable);
  const res = await article(app, 'demo_reader=r-1');
  assert.match(res.text, /data-paywall="unavailable"/);
  assert.doesNotMatch(res.text, /data-article-body/);
  assert.deepEqual(asked, ['r-1']);
  assert.ok(res.text.includes('Eve &#60;script&#62;') && !res.text.includes('Eve <script>'), 'the reader name is escaped');
});

test('the update button carries update_card_url escaped, and a non-http URL never becomes a link', async () => {
  const base = { customer: 'cus_1', user: 'r-1', entitled: false, status: 'card_expired', reason: 'card_expired', message: '', grace_until: null, subscription: null, card: null, checked_at: '', source: 'network' } as const;
  const ok = await article(site({ ...base, update_card_url: 'https://subgate.test/billing/update-card?token=a&b="c"' }).app, 'demo_reader=r-1');
  assert.match(ok.text, /data-paywall="update-card"/);
  assert.ok(ok.text.includes('href="https://subgate.test/billing/update-card?token=a&#38;b=%22c%22"'));
  const evil = await article(site({ ...base, update_card_url: 'javascript:alert(1)' }).app, 'demo_reader=r-1');
  assert.ok(evil.text.includes('href="#" data-update-card'));
});
