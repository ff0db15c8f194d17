/**
 * GET /billing/update-card and GET /billing/return through the real app, the real Stripe SDK and the
 * Stripe double: signed tokens, the Billing Portal card-update flow, and access back on return.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createHarness, LINK_SECRET, PUBLISHER_RETURN_URL, type Harness } from '../support/harness.js';
import { DAY, replaceCard, seedSubscriber, settleExpiry } from '../support/card-scenarios.js';
import { refreshReadOf } from '../support/readers.js';
import { signLinkToken, verifyLinkToken } from '../../src/domain/link-token.js';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';

const START = Date.UTC(2028, 3, 15); // 2028-04-15
const portalPosts = (h: Harness) => h.stripe.count({ method: 'POST', path: '/v1/billing_portal/sessions' });
const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

describe('update-card link', () => {
  let h: Harness;

  before(async () => {
    h = await createHarness({ label: 'update-card', clockStart: START, cardExpiry: {} });
  });
  after(async () => {
    await h.close();
  });

  test('a valid link opens a Billing Portal session on the card-update flow and answers 303 to it', async () => {
    const sub = await seedSubscriber(h, { exp_month: 3, exp_year: 2028 });
    const link = h.links!.urlFor(sub.customerId);
    const token = new URL(link).searchParams.get('token')!;

    const res = await request(h.app).get(pathOf(link));
    assert.equal(res.status, 303);
    const [portal] = h.stripe.portalSessions.slice(-1);
    assert.ok(portal);
    assert.equal(res.headers.location, portal.session.url);
    assert.equal(portal.session.customer, sub.customerId);
    assert.equal(portal.params.flow_data.type, 'payment_method_update');
    const returnUrl = `http://subgate.test/billing/return?token=${encodeURIComponent(token)}`;
    assert.equal(portal.params.return_url, returnUrl);
    assert.equal(portal.params.flow_data.after_completion.redirect.return_url, returnUrl);
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  test('forged, expired, cross-customer and malformed tokens get a friendly HTML page, a 4xx, and no Stripe call', async () => {
    const alice = await seedSubscriber(h, { exp_month: 3, exp_year: 2028 });
    const bob = await seedSubscriber(h, { exp_month: 3, exp_year: 2028 });
    const good = signLinkToken(alice.customerId, h.clock.now() + 14 * DAY, LINK_SECRET);
    const [v = '', , exp = '', mac = ''] = good.split('.');
    const cases: Array<[string, string, number, RegExp]> = [
      ['forged with another secret', signLinkToken(alice.customerId, h.clock.now() + DAY, 'x'.repeat(40)), 403, /does not work/],
      ['a tampered signature', `${v}.${good.split('.')[1]}.${exp}.${mac.slice(0, -2)}AA`, 403, /does not work/],
      ['moved to another customer', `${v}.${Buffer.from(bob.customerId).toString('base64url')}.${exp}.${mac}`, 403, /does not work/],
      ['stretched expiry', `${v}.${good.split('.')[1]}.${Number(exp) + 86_400 * 365}.${mac}`, 403, /does not work/],
      ['expired', signLinkToken(alice.customerId, h.clock.now() - 1000, LINK_SECRET), 410, /has expired/],
      ['malformed', 'not-a-token', 400, /does not work/],
      ['missing', '', 400, /does not work/],
    ];
    const before = portalPosts(h);
    for (const [label, token, status, text] of cases) {
      for (const path of ['/billing/update-card', '/billing/return']) {
        const res = await request(h.app).get(path).query(token ? { token } : {});
        assert.equal(res.status, status, `${label} on ${path}`);
        assert.match(res.headers['content-type'] ?? '', /text\/html/);
        assert.match(res.text, text);
        assert.match(res.text, /help@gazette\.test/);
      }
    }
    assert.equal(portalPosts(h), before, 'no portal session for a bad token');
    assert.equal(verifyLinkToken(good, LINK_SECRET, h.clock.now()).ok, true, 'the untampered token is fine');
  });

  test('a link older than its lifetime is refused as expired', async () => {
    const sub = await seedSubscriber(h, { exp_month: 3, exp_year: 2028 });
    const link = h.links!.urlFor(sub.customerId);
    h.clock.advance(14 * DAY);
    try {
      const res = await request(h.app).get(pathOf(link));
      assert.equal(res.status, 410);
    } finally {
      h.clock.set(START);
    }
  });

  test('Stripe failing to open the portal shows a try-again page, not an error body', async () => {
    const sub = await seedSubscriber(h, { exp_month: 3, exp_year: 2028 });
    h.stripe.failNext(1, { status: 500, match: { method: 'POST', path: '/v1/billing_portal/sessions' } });
    const res = await request(h.app).get(pathOf(h.links!.urlFor(sub.customerId)));
    assert.equal(res.status, 503);
    assert.match(res.text, /try again/i);
  });

  test('the return URL re-reads Stripe at once: access is back before any webhook arrives', async () => {
    const sub = await seedSubscriber(h, { exp_month: 3, exp_year: 2028 });
    await settleExpiry(h);
    assert.equal((await h.entitlement({ customer: sub.customerId })).body.status, 'card_expired');

    replaceCard(h, sub.customerId, { exp_month: 9, exp_year: 2031 }); // what the portal does
    const token = new URL(h.links!.urlFor(sub.customerId)).searchParams.get('token')!;
    const res = await request(h.app).get('/billing/return').query({ token });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, PUBLISHER_RETURN_URL);

    const ent = await h.entitlement({ customer: sub.customerId });
    assert.equal(ent.body.status, 'active');
    assert.equal(ent.body.card.exp_year, 2031);
    assert.equal(await h.queues.stripeEvents.count(), 0, 'no webhook was involved');
  });

  test('reloading the return page (or re-opening its link) does not re-read Stripe again within the window', async () => {
    const sub = await seedSubscriber(h, { exp_month: 9, exp_year: 2031 });
    await settleExpiry(h);
    const token = new URL(h.links!.urlFor(sub.customerId)).searchParams.get('token')!;
    const reads = () => h.stripe.count(refreshReadOf(sub.customerId));
    const before = reads();
    assert.equal((await request(h.app).get('/billing/return').query({ token })).status, 303);
    const afterFirst = reads();
    assert.ok(afterFirst > before, 'the first return re-read the customer');
    for (let i = 0; i < 5; i++) assert.equal((await request(h.app).get('/billing/return').query({ token })).status, 303);
    assert.equal(reads(), afterFirst, 'reloads within the window made no Stripe call');
  });

  test('the new card counts at once: set on the past_due subscription, open invoice paid, entitled again', async () => {
    h.clock.set(cardExpiresAt(3, 2028) + 10 * DAY);
    try {
      const sub = await seedSubscriber(h, {
        exp_month: 3,
        exp_year: 2028,
        status: 'past_due',
        cardOnSubscription: true,
        openInvoice: true,
        invoiceAgeDays: 9,
      });
      await settleExpiry(h);
      const denied = await h.entitlement({ customer: sub.customerId });
      assert.deepEqual([denied.body.entitled, denied.body.status], [false, 'payment_failed']);

      const newPm = replaceCard(h, sub.customerId, { exp_month: 9, exp_year: 2031 });
      const token = new URL(h.links!.urlFor(sub.customerId)).searchParams.get('token')!;
      assert.equal((await request(h.app).get('/billing/return').query({ token })).status, 303);

      const subscription = h.stripe.getSubscription(sub.subscriptionId)!;
      assert.equal(subscription.default_payment_method, newPm.id);
      assert.equal(h.stripe.getInvoice(String(subscription.latest_invoice))?.status, 'paid');
      const ent = await h.entitlement({ customer: sub.customerId });
      assert.deepEqual([ent.body.entitled, ent.body.status, ent.body.subscription.status], [true, 'active', 'active']);
    } finally {
      h.clock.set(START);
    }
  });

  test('the entitlement answer carries update_card_url when the card needs attention, and null otherwise', async () => {
    const healthy = await seedSubscriber(h, { exp_month: 12, exp_year: 2031 });
    const soon = await seedSubscriber(h, { exp_month: 4, exp_year: 2028 });
    const expired = await seedSubscriber(h, { exp_month: 3, exp_year: 2028 });
    assert.equal((await h.entitlement({ customer: healthy.customerId })).body.update_card_url, null);
    for (const sub of [soon, expired]) {
      const url = (await h.entitlement({ customer: sub.customerId })).body.update_card_url as string;
      assert.match(url, /^http:\/\/subgate\.test\/billing\/update-card\?token=/);
      const check = verifyLinkToken(new URL(url).searchParams.get('token'), LINK_SECRET, h.clock.now());
      assert.deepEqual(check, { ok: true, customerId: sub.customerId, expiresAt: Math.floor((h.clock.now() + 14 * DAY) / 1000) * 1000 });
    }
  });
});

describe('update-card link with recovery switched off and no publisher page', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({
      label: 'update-card-off',
      clockStart: cardExpiresAt(3, 2028) + 10 * DAY,
      cardExpiry: { newCardRecovery: false, publisherReturnUrl: undefined },
    });
  });
  after(async () => {
    await h.close();
  });

  test('the subscription keeps its own card and no invoice is paid; the reader sees a thank-you page', async () => {
    const sub = await seedSubscriber(h, { exp_month: 3, exp_year: 2028, status: 'past_due', cardOnSubscription: true, openInvoice: true });
    replaceCard(h, sub.customerId, { exp_month: 9, exp_year: 2031 });
    const token = new URL(h.links!.urlFor(sub.customerId)).searchParams.get('token')!;
    const res = await request(h.app).get('/billing/return').query({ token });
    assert.equal(res.status, 200);
    assert.match(res.text, /Your card details are updated/);
    assert.equal(h.stripe.getSubscription(sub.subscriptionId)?.default_payment_method, sub.pmId);
    assert.equal(h.stripe.count({ method: 'POST', path: /\/v1\/invoices\/.*\/pay/ }), 0);
    assert.equal(h.stripe.count({ method: 'POST', path: /^\/v1\/subscriptions\// }), 0);
  });
});
