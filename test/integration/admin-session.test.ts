/**
 * /admin in a browser's terms: logging in with ADMIN_TOKEN gives a session cookie with the attributes a
 * browser needs to keep it to us; no session, a wrong, forged, revoked or expired one gets the login page
 * and no data; state-changing requests on a session must come from this site and carry the CSRF token;
 * failed logins are bounded per address. The bearer header keeps working beside all of it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { ADMIN_TOKEN, createOpsHarness, type OpsHarness } from '../support/ops-harness.js';
import { buildAppOn } from '../support/harness.js';
import { seedSubscriber } from '../support/card-scenarios.js';
import { adminDeps } from '../../src/composition.js';
import { ADMIN_COOKIE } from '../../src/http/admin-session.js';
import { assertMatchesOpenApi } from '../support/openapi.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('admin browser sessions', () => {
  let o: OpsHarness;
  let origin: string;
  let customerId: string;
  before(async () => {
    o = await createOpsHarness({ label: 'admin-session', clockStart: START, opsWorkers: false });
    origin = new URL(o.h.config.publicBaseUrl).origin;
    ({ customerId } = await seedSubscriber(o.h, { exp_month: 12, exp_year: 2030, email: 'ada@example.com', user: 'user-ada' }));
  });
  after(async () => {
    await o.close();
  });

  /** Logs in as a browser would; returns the cookie pair to send back. */
  async function login(app = o.app, token = ADMIN_TOKEN): Promise<{ cookie: string; setCookie: string }> {
    const res = await request(app).post('/admin/login').set('Origin', origin).type('form').send({ token, next: '/admin' });
    assert.equal(res.status, 303, res.text);
    const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${ADMIN_COOKIE}=`));
    assert.ok(setCookie, 'a session cookie is set');
    return { cookie: setCookie.split(';')[0]!, setCookie };
  }

  const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1];

  test('no session: a browser gets the login page and no data; a script gets 401 JSON', async () => {
    const page = await request(o.app).get(`/admin/customers/${customerId}`).set('Accept', HTML);
    assert.equal(page.status, 401);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.text, /<form method="post" action="\/admin\/login">/);
    assert.match(page.text, new RegExp(`name="next" value="/admin/customers/${customerId}"`), 'it returns where it was asked for');
    assert.doesNotMatch(page.text, /a\*\*\*@example\.com|ada@|subscribed|active/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    assert.match(String(page.headers['content-security-policy']), /form-action 'self'/);
    const json = await request(o.app).get(`/admin/customers/${customerId}`);
    assert.equal(json.status, 401);
    assert.equal(json.body.error.code, 'unauthorized');
    const board = await request(o.app).get('/admin/queues').set('Accept', HTML);
    assert.equal(board.status, 401);
    assert.match(board.text, /action="\/admin\/login"/);
  });

  test('the right token logs in: an HttpOnly, SameSite=Strict, expiring cookie scoped to /admin', async () => {
    const { cookie, setCookie } = await login();
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    assert.match(setCookie, /; Path=\/admin/);
    assert.match(setCookie, /; Max-Age=28800/);
    assert.doesNotMatch(setCookie, /Secure/, 'PUBLIC_BASE_URL is http here');
    const home = await request(o.app).get('/admin').set('Accept', HTML).set('Cookie', cookie);
    assert.equal(home.status, 200);
    assert.match(home.text, /action="\/admin\/search"/);
    assert.ok(csrfOf(home.text), 'the logout form carries a CSRF token');
    // The session opens what the bearer token opens: the JSON view and Bull Board.
    const json = await request(o.app).get(`/admin/customers/${customerId}`).set('Cookie', cookie);
    assert.equal(json.status, 200);
    assert.equal(json.body.customer, customerId);
    assert.equal((await request(o.app).get('/admin/queues/api/queues').set('Cookie', cookie)).status, 200);
    // And the bearer header still works without any session.
    assert.equal((await o.admin('get', `/admin/customers/${customerId}`)).status, 200);
  });

  test('a wrong token, a forged cookie or a wrong bearer beside a good cookie get nothing', async () => {
    const wrong = await request(o.app).post('/admin/login').set('Origin', origin).type('form').send({ token: `${ADMIN_TOKEN}x` });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['set-cookie'], undefined);
    assert.match(wrong.text, /not the admin token/);
    const missing = await request(o.app).post('/admin/login').set('Origin', origin).type('form').send({});
    assert.equal(missing.status, 401);
    for (const forged of [`${ADMIN_COOKIE}=${'A'.repeat(43)}`, `${ADMIN_COOKIE}=../../etc`, `${ADMIN_COOKIE}=`, 'other=1']) {
      const res = await request(o.app).get(`/admin/customers/${customerId}`).set('Accept', HTML).set('Cookie', forged);
      assert.equal(res.status, 401, forged);
      assert.match(res.text, /action="\/admin\/login"/);
      assert.doesNotMatch(res.text, /\*\*\*@example/);
    }
    const { cookie } = await login();
    const mixed = await request(o.app).get(`/admin/customers/${customerId}`).set('Cookie', cookie).set('Authorization', 'Bearer nope-nope-nope-nope');
    assert.equal(mixed.status, 401, 'a wrong bearer token is not rescued by a cookie');
    const oversized = await request(o.app).post('/admin/login').set('Origin', origin).type('form').send({ token: 'x'.repeat(4000) });
    assert.equal(oversized.status, 413);
    assert.equal(oversized.body.error.code, 'payload_too_large');
  });

  test('an expired session gets the login page, and says so', async () => {
    const { cookie } = await login();
    assert.equal((await request(o.app).get('/admin').set('Accept', HTML).set('Cookie', cookie)).status, 200);
    o.h.clock.advance(8 * 3600_000 + 1);
    try {
      const res = await request(o.app).get(`/admin/customers/${customerId}`).set('Accept', HTML).set('Cookie', cookie);
      assert.equal(res.status, 401);
      assert.match(res.text, /session has ended/);
      assert.doesNotMatch(res.text, /\*\*\*@example/);
      assert.equal((await request(o.app).get(`/admin/customers/${customerId}`).set('Cookie', cookie)).status, 401);
    } finally {
      o.h.clock.advance(-(8 * 3600_000 + 1));
    }
  });

  test('a cross-site POST is refused, whatever it carries; a same-site one needs the CSRF token', async () => {
    const { cookie } = await login();
    const jobs = async () => Object.values(await o.opsQueues.resync.getJobCounts()).reduce((a, b) => a + b, 0);
    const before = await jobs();
    const crossSite = await request(o.app).post('/admin/resync').set('Cookie', cookie).set('Origin', 'https://evil.example').send({});
    assert.equal(crossSite.status, 403);
    assert.equal(crossSite.body.error.code, 'cross_site');
    const noOrigin = await request(o.app).post('/admin/resync').set('Cookie', cookie).send({});
    assert.equal(noOrigin.status, 403, 'neither Origin nor Sec-Fetch-Site: not known to be same-site');
    const fetchCrossSite = await request(o.app).post('/admin/recover-events').set('Cookie', cookie).set('Sec-Fetch-Site', 'cross-site');
    assert.equal(fetchCrossSite.status, 403);
    assert.equal(await jobs(), before, 'no resync was queued');
    const loginCrossSite = await request(o.app).post('/admin/login').set('Origin', 'https://evil.example').type('form').send({ token: ADMIN_TOKEN });
    assert.equal(loginCrossSite.status, 403);
    assert.equal(loginCrossSite.headers['set-cookie'], undefined);

    const home = await request(o.app).get('/admin').set('Accept', HTML).set('Cookie', cookie);
    const csrf = csrfOf(home.text)!;
    const noToken = await request(o.app).post('/admin/logout').set('Cookie', cookie).set('Origin', origin).type('form').send({});
    assert.equal(noToken.status, 403);
    assert.equal(noToken.body.error.code, 'csrf');
    const wrongToken = await request(o.app).post('/admin/logout').set('Cookie', cookie).set('Origin', origin).type('form').send({ csrf: `${csrf}x` });
    assert.equal(wrongToken.status, 403);
    const foreign = await request(o.app).post('/admin/logout').set('Cookie', cookie).set('Origin', 'https://evil.example').type('form').send({ csrf });
    assert.equal(foreign.status, 403, 'the right token from another site is still refused');
    assert.equal((await request(o.app).get('/admin').set('Accept', HTML).set('Cookie', cookie)).status, 200, 'the session survived all that');
  });

  test('logout revokes the session: the same cookie, replayed, gets the login page', async () => {
    const { cookie } = await login();
    const home = await request(o.app).get('/admin').set('Accept', HTML).set('Cookie', cookie);
    const out = await request(o.app).post('/admin/logout').set('Cookie', cookie).set('Origin', origin).type('form').send({ csrf: csrfOf(home.text) });
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, '/admin/login');
    assert.match(String(out.headers['set-cookie']), new RegExp(`${ADMIN_COOKIE}=; .*Max-Age=0`));
    const replay = await request(o.app).get('/admin').set('Accept', HTML).set('Cookie', cookie);
    assert.equal(replay.status, 401);
    assert.equal((await request(o.app).get('/admin/queues/api/queues').set('Cookie', cookie)).status, 401);
  });

  test('the cookie is Secure when PUBLIC_BASE_URL is https; next never leaves /admin', async () => {
    const base = adminDeps(o.h.api, ADMIN_TOKEN);
    const app = buildAppOn(o.h, { admin: { ...base, browser: { ...base.browser!, publicBaseUrl: 'https://admin.example' } } });
    const res = await request(app).post('/admin/login').set('Origin', 'https://admin.example').type('form').send({ token: ADMIN_TOKEN, next: '//evil.example/x' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/admin');
    assert.match(String(res.headers['set-cookie']), /; Secure/);
  });

  test('the login pages answer as documented', async () => {
    assertMatchesOpenApi(await request(o.app).get('/admin/login'), '/admin/login', 'get');
    assertMatchesOpenApi(await request(o.app).post('/admin/login').set('Origin', origin).type('form').send({ token: 'wrong-wrong-wrong' }), '/admin/login', 'post');
  });

  // Last: it locks this address out of logging in for the rest of the window.
  test('failed logins are bounded per address: past the limit even the right token is refused', async () => {
    const limit = o.h.config.adminSessions.maxLoginFailures;
    const statuses: number[] = [];
    for (let i = 0; i < limit + 2; i++) {
      statuses.push((await request(o.app).post('/admin/login').set('Origin', origin).type('form').send({ token: `guess-${i}-0123456789` })).status);
    }
    assert.ok(statuses.filter((s) => s === 401).length <= limit, `at most ${limit} guesses are judged (${statuses.join(',')})`);
    assert.equal(statuses.at(-1), 429);
    const right = await request(o.app).post('/admin/login').set('Origin', origin).type('form').send({ token: ADMIN_TOKEN });
    assert.equal(right.status, 429);
    assert.equal(right.headers['set-cookie'], undefined);
    assert.ok(Number(right.headers['retry-after']) > 0);
    // Scripts with the bearer header are not locked out.
    assert.equal((await o.admin('get', `/admin/customers/${customerId}`)).status, 200);
  });
});
