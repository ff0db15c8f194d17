/**
 * What the browser is told about each response: `nosniff` everywhere (the entitlement fast path too),
 * no framing and a Content-Security-Policy on HTML, a strict one on subgate's own pages (their one
 * <style> allowed by hash, nothing else), one on Bull Board that its UI's assets fit, and no
 * X-Powered-By anywhere. Bull Board in a real browser: test/integration/bull-board-browser.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import request from 'supertest';
import { createOpsHarness, type OpsHarness } from '../support/ops-harness.js';
import { API_TOKEN } from '../support/harness.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);

/** `a b; c d` -> { a: 'b', c: 'd' } */
function directives(csp: string | undefined): Record<string, string> {
  assert.ok(csp, 'a Content-Security-Policy header');
  return Object.fromEntries(
    csp.split(';').map((part) => {
      const [name = '', ...values] = part.trim().split(/\s+/);
      return [name, values.join(' ')];
    }),
  );
}

describe('security headers', () => {
  let o: OpsHarness;
  before(async () => {
    o = await createOpsHarness({ label: 'security-headers', clockStart: START, cardExpiry: {}, opsWorkers: false, workers: false });
  });
  after(async () => {
    await o.close();
  });

  test('every response says nosniff and nobody powers it, the entitlement fast path included', async () => {
    const cases: Array<[string, request.Test, number]> = [
      ['entitlement answer (fast path)', request(o.app).get('/v1/entitlements').query({ customer: 'cus_nobody' }).set('Authorization', `Bearer ${API_TOKEN}`), 200],
      ['entitlement 401 (fast path)', request(o.app).get('/v1/entitlements').query({ customer: 'cus_nobody' }), 401],
      ['entitlement 400 (fast path)', request(o.app).get('/v1/entitlements').query({ customer: 'nope' }).set('Authorization', `Bearer ${API_TOKEN}`), 400],
      ['healthz', request(o.app).get('/healthz'), 200],
      ['readyz', request(o.app).get('/readyz'), 200],
      ['openapi', request(o.app).get('/openapi.json'), 200],
      ['metrics', request(o.app).get('/metrics'), 200],
      ['unknown route', request(o.app).get('/no/such/route'), 404],
      ['webhook refusal', request(o.app).post('/webhooks/stripe').send('{}'), 400],
      ['billing page', request(o.app).get('/billing/update-card').query({ token: 'garbage' }), 400],
      ['admin customer', o.admin('get', '/admin/customers/cus_nobody'), 404],
      ['Bull Board page', o.admin('get', '/admin/queues'), 200],
      ['Bull Board API', o.admin('get', '/admin/queues/api/queues'), 200],
      ['Bull Board, bad percent-encoding', o.admin('get', '/admin/queues/no-such-page/%E0%A4%A'), 400],
      ['Bull Board without the token', o.admin('get', '/admin/queues', null), 401],
    ];
    for (const [what, send, status] of cases) {
      const res = await send;
      assert.equal(res.status, status, what);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
      assert.equal(res.headers['x-powered-by'], undefined, what);
    }
  });

  test("subgate's own pages run no script, load nothing, cannot be framed: their one <style> is allowed by its hash", async () => {
    const res = await request(o.app).get('/billing/update-card').query({ token: 'garbage' });
    assert.match(res.headers['content-type'] ?? '', /text\/html/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    const csp = directives(res.headers['content-security-policy']);
    const styles = [...res.text.matchAll(/<style>([^<]*)<\/style>/g)].map((m) => m[1]!);
    assert.equal(styles.length, 1, 'one <style> element');
    const hash = `'sha256-${createHash('sha256').update(styles[0]!, 'utf8').digest('base64')}'`;
    assert.deepEqual(csp, {
      'default-src': "'none'",
      'style-src': hash,
      'base-uri': "'none'",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
    });
    assert.doesNotMatch(res.text, /\sstyle=/i, 'no style attribute (the policy would block it)');
    assert.doesNotMatch(res.text, /<script|\son[a-z]+=/i, 'no script, no handler');
  });

  test('Bull Board: no framing, a policy its own page and assets fit, and every asset it links loads through the app', async () => {
    const page = await o.admin('get', '/admin/queues');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /text\/html/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    const csp = directives(page.headers['content-security-policy']);
    assert.equal(csp['default-src'], "'none'");
    assert.equal(csp['frame-ancestors'], "'none'");
    assert.equal(csp['script-src'], "'self'", 'scripts only from our own origin');

    const base = /<base href="([^"]+)"/.exec(page.text)?.[1];
    assert.equal(base, '/admin/queues/');
    const scripts = [...page.text.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]!);
    const sheets = [...page.text.matchAll(/<link[^>]*href="([^"]+)"[^>]*rel="stylesheet"/g)].map((m) => m[1]!);
    const icons = [...page.text.matchAll(/<link[^>]*rel="(?:alternate )?icon"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(scripts.length >= 1 && sheets.length >= 1 && icons.length >= 1, 'found the assets');
    assert.doesNotMatch(page.text, /<script(?![^>]*\ssrc=)(?![^>]*type="application\/json")[^>]*>/, 'no inline script to allow');

    const allowedStyleHosts = csp['style-src']!.split(' ').filter((source) => source.startsWith('https://'));
    for (const href of [...scripts, ...sheets, ...icons]) {
      const url = new URL(href, `http://subgate.test${base}`);
      if (url.origin !== 'http://subgate.test') {
        assert.ok(sheets.includes(href) && allowedStyleHosts.includes(url.origin), `${href}: an outside stylesheet the policy allows`);
        continue;
      }
      const asset = await o.admin('get', url.pathname);
      assert.equal(asset.status, 200, url.pathname);
      assert.equal(asset.headers['x-content-type-options'], 'nosniff');
      assert.equal(asset.headers['x-powered-by'], undefined);
      const type = asset.headers['content-type'] ?? '';
      if (scripts.includes(href)) assert.match(type, /javascript/, url.pathname);
      if (sheets.includes(href)) assert.match(type, /text\/css/, url.pathname);
    }
  });
});
