import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayBrand, noticeKey, renderNotice, type NoticeRequest } from '../../src/domain/notice.js';
import { cardExpiresAt, DAY_MS } from '../../src/domain/card-expiry.js';

const request = (kind: NoticeRequest['kind'], window = ''): NoticeRequest => ({
  kind,
  customerId: 'cus_1',
  card: { id: 'pm_1', brand: 'amex', last4: '0005', exp_month: 12, exp_year: 2026 },
  window,
  requestedAt: 0,
});
const context = { publisherName: 'The <Daily> & Co', supportEmail: 'help@daily.test', updateCardUrl: 'https://s.test/billing/update-card?token=v1.a&b', now: cardExpiresAt(12, 2026) - 7 * DAY_MS };

describe('notices', () => {
  it('one key per customer, card, expiry, kind and window, usable as a job id', () => {
    assert.equal(noticeKey(request('card_expiring', '30d')), 'cus_1|pm_1|2026-12|card_expiring|30d');
    assert.notEqual(noticeKey(request('card_expiring', '30d')), noticeKey(request('card_expiring', '7d')));
    assert.ok(!noticeKey(request('payment_failed', 'in:1')).includes(':'));
  });

  it('renders text and HTML with the card, the publisher, the support address and the link', () => {
    const content = renderNotice(request('card_expiring', '7d'), context);
    assert.equal(content.subject, 'Your card ending in 0005 expires in 7 days');
    assert.match(content.text, /The American Express card ending in 0005 that pays for your The <Daily> & Co subscription expires at the end of 12\/2026, in 7 days\./);
    assert.match(content.text, /Update your card: https:\/\/s\.test\/billing\/update-card\?token=v1\.a&b/);
    assert.match(content.text, /Questions\? Write to help@daily\.test\./);
    assert.match(content.html, /The &#60;Daily&#62; &#38; Co/, 'values are escaped in HTML');
    assert.match(content.html, /href="https:\/\/s\.test\/billing\/update-card\?token=v1\.a&#38;b"/);
  });

  it('every kind has its own wording; without a link the call to action is left out', () => {
    const subjects = (['card_expiring', 'card_expired', 'payment_failed', 'access_restored'] as const).map((k) => renderNotice(request(k), context).subject);
    assert.equal(new Set(subjects).size, 4);
    const bare = renderNotice(request('card_expired'), { ...context, updateCardUrl: null });
    assert.ok(!bare.text.includes('http'));
    assert.ok(!bare.html.includes('<a '));
  });

  it('brands read as people write them', () => {
    assert.deepEqual(['visa', 'mastercard', 'amex', 'unknown', 'newbrand'].map(displayBrand), ['Visa', 'Mastercard', 'American Express', 'Card', 'Newbrand']);
  });
});
