import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createHarness, API_TOKEN, type Harness } from '../support/harness.js';
import type { CustomerProjection, SubscriptionSnapshot } from '../../src/domain/projection.js';

const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
const DAY = 86_400_000;

function projection(customer: string, user: string | null, subs: Partial<SubscriptionSnapshot>[]): CustomerProjection {
  return {
    customer,
    user,
    email: null,
    deleted: false,
    default_card: null,
    read_at: NOW - 1000,
    subscriptions: subs.map((s, i) => ({
      id: `sub_${customer}_${i}`,
      status: 'active',
      current_period_end: NOW + 20 * DAY,
      cancel_at_period_end: false,
      card: { id: `pm_${customer}`, brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030 },
      past_due_since: null,
      created: NOW - 100 * DAY,
      ...s,
    })),
  };
}

describe('GET /v1/entitlements', () => {
  let h: Harness;
  const get = (query: string, token: string | null = API_TOKEN) => {
    const req = request(h.app).get(`/v1/entitlements${query}`);
    return token === null ? req : req.set('Authorization', `Bearer ${token}`);
  };

  before(async () => {
    h = await createHarness({ label: 'entitlements', workers: false, clockStart: NOW });
    await h.store.write(projection('cus_active', 'user-1', [{}]));
    await h.store.write(
      projection('cus_expired', 'user-2', [{ card: { id: 'pm_old', brand: 'mastercard', last4: '4444', exp_month: 10, exp_year: 2026 } }]),
    );
    // user-3 has two customers: an old canceled one and a current one.
    await h.store.write(projection('cus_old', 'user-3', [{ status: 'canceled' }]));
    await h.store.write(projection('cus_new', 'user-3', [{ status: 'trialing' }]));
  });
  after(async () => {
    await h.close();
  });

  test('an active subscriber is entitled, with the full body', async () => {
    const res = await get('?customer=cus_active');
    assert.equal(res.status, 200);
    const subscription = { id: 'sub_cus_active_0', status: 'active', current_period_end: new Date(NOW + 20 * DAY).toISOString() };
    assert.deepEqual(res.body, {
      customer: 'cus_active',
      user: 'user-1',
      entitled: true,
      status: 'active',
      reason: 'subscribed',
      message: 'Your subscription is active.',
      grace_until: null,
      subscription: { id: 'sub_cus_active_0', status: 'active', current_period_end: new Date(NOW + 20 * DAY).toISOString() },
      card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030, expired: false },
      update_card_url: null,
      checked_at: new Date(NOW).toISOString(),
      // With no feature configuration every subscription grants the one feature `content`.
      feature: 'content',
      features: [{ feature: 'content', entitled: true, status: 'active', reason: 'subscribed', grace_until: null, subscription }],
    });
    assert.equal(res.headers['cache-control'], 'private, no-store');
  });

  test('a card that expired at the end of October denies access with the reason', async () => {
    const res = await get('?customer=cus_expired');
    assert.equal(res.status, 200);
    assert.equal(res.body.entitled, false);
    assert.equal(res.body.status, 'card_expired');
    assert.equal(res.body.card.expired, true);
    assert.match(res.body.message, /card on file is up to date/);
  });

  test('an unknown customer is a 200 with status none', async () => {
    const res = await get('?customer=cus_nobody');
    assert.equal(res.status, 200);
    assert.equal(res.body.entitled, false);
    assert.equal(res.body.status, 'none');
    assert.equal(res.body.reason, 'unknown_customer');
    assert.equal(res.body.subscription, null);
  });

  test('lookup by user finds the customer through its metadata', async () => {
    const res = await get('?user=user-1');
    assert.equal(res.status, 200);
    assert.equal(res.body.customer, 'cus_active');
    assert.equal(res.body.entitled, true);
  });

  test('a user with two customers gets the best of them', async () => {
    const res = await get('?user=user-3');
    assert.equal(res.body.customer, 'cus_new');
    assert.equal(res.body.status, 'trialing');
  });

  test('an unknown user is a 200 with status none', async () => {
    const res = await get('?user=nobody');
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.customer, res.body.user, res.body.status], [null, 'nobody', 'none']);
  });

  test('a user whose metadata moved to another customer leaves the old index', async () => {
    await h.store.write({ ...projection('cus_moving', 'user-a', [{}]), read_at: NOW - 500 });
    await h.store.write({ ...projection('cus_moving', 'user-b', [{}]), read_at: NOW - 400 });
    assert.equal((await get('?user=user-a')).body.status, 'none');
    assert.equal((await get('?user=user-b')).body.customer, 'cus_moving');
  });

  describe('refusals', () => {
    test('no token, a wrong token, or a malformed header -> 401', async () => {
      for (const res of [
        await get('?customer=cus_active', null),
        await get('?customer=cus_active', 'wrong-token-wrong-token'),
        await request(h.app).get('/v1/entitlements?customer=cus_active').set('Authorization', API_TOKEN),
        await request(h.app).get('/v1/entitlements?customer=cus_active').set('Authorization', `Basic ${API_TOKEN}`),
      ]) {
        assert.equal(res.status, 401);
        assert.equal(res.body.error.code, 'unauthorized');
        assert.equal(res.headers['www-authenticate'], 'Bearer');
      }
    });

    test('the token is checked before the query, so a bad query without one is a 401', async () => {
      assert.equal((await get('?customer=nonsense', null)).status, 401);
    });

    const bad: Array<[string, string]> = [
      ['', 'invalid_query'],
      ['?customer=cus_active&user=user-1', 'invalid_query'],
      ['?customer=acct_123', 'invalid_customer'],
      ['?customer=', 'invalid_customer'],
      ['?customer=cus_a&customer=cus_b', 'invalid_customer'],
      ['?customer=cus_' + 'x'.repeat(300), 'invalid_customer'],
      ['?customer=cus_a%00b', 'invalid_customer'],
      ['?user=', 'invalid_user'],
      ['?user=' + 'u'.repeat(257), 'invalid_user'],
      ['?user=a%0Ab', 'invalid_user'],
      ['?user=a&user=b', 'invalid_user'],
    ];
    for (const [query, code] of bad) {
      test(`malformed query ${query.slice(0, 40) || '(none)'} -> 400 ${code}`, async () => {
        const res = await get(query);
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, code);
      });
    }
  });

  test('the Express route behind the fast path answers alike (HEAD goes through Express)', async () => {
    const fast = await get('?customer=cus_active');
    const head = await request(h.app).head('/v1/entitlements?customer=cus_active').set('Authorization', `Bearer ${API_TOKEN}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], fast.headers['content-length']);
    assert.equal(head.headers['cache-control'], 'private, no-store');
    const viaExpress = await request(h.app.express).get('/v1/entitlements?customer=cus_active').set('Authorization', `Bearer ${API_TOKEN}`);
    assert.deepEqual(viaExpress.body, fast.body);
    const unauthorised = await request(h.app.express).get('/v1/entitlements?customer=cus_active');
    assert.equal(unauthorised.status, 401);
    assert.equal(unauthorised.headers['www-authenticate'], 'Bearer');
  });

  test('other methods on the entitlement path are not answered by the fast path', async () => {
    const res = await request(h.app).post('/v1/entitlements?customer=cus_active').set('Authorization', `Bearer ${API_TOKEN}`);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
  });

  test('unknown routes are a JSON 404', async () => {
    const res = await request(h.app).get('/v1/nothing');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
  });

  test('health and readiness answer', async () => {
    assert.deepEqual((await request(h.app).get('/healthz')).body, { status: 'ok' });
    assert.deepEqual((await request(h.app).get('/readyz')).body, { status: 'ready' });
  });
});
