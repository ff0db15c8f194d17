import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createOpsHarness, type OpsHarness } from '../support/ops-harness.js';
import { API_TOKEN } from '../support/harness.js';
import { seedReader } from '../support/readers.js';
import { assertMatchesOpenApi, openApiDocument } from '../support/openapi.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);

interface LayerLike {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: LayerLike[] };
  match(path: string): boolean;
}

/** Every method+path the app routes, from Express's own router (routers mounted at the root included). */
function routesOf(stack: LayerLike[]): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      return paths.flatMap((path) =>
        Object.keys(layer.route!.methods).map((method) => `${method} ${path.replace(/:([A-Za-z_]+)/g, '{$1}')}`),
      );
    }
    // A router mounted at the root matches any path; one mounted under a path (Bull Board) is documented as that path.
    if (layer.handle?.stack && layer.match('/__any__')) return routesOf(layer.handle.stack);
    return [];
  });
}

describe('the OpenAPI document', () => {
  let o: OpsHarness;
  before(async () => {
    o = await createOpsHarness({ label: 'openapi', clockStart: START, cardExpiry: {}, opsWorkers: false });
  });
  after(async () => {
    await o.close();
  });

  test('is served at /openapi.json as OpenAPI 3.1', async () => {
    const res = await request(o.app).get('/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.body.openapi, '3.1.0');
    assertMatchesOpenApi(res, '/openapi.json', 'get');
  });

  test('documents every route the app serves, and serves every route it documents', async () => {
    const served = routesOf((o.app.express as unknown as { router: { stack: LayerLike[] } }).router.stack);
    assert.ok(served.length >= 12, `found the routes (${served.join(', ')})`);
    const documented = Object.entries(openApiDocument.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    for (const route of served) assert.ok(documented.includes(route), `${route} is documented`);
    // Bull Board is a mounted sub-app: documented at its mount point.
    assert.deepEqual(documented.filter((route) => !served.includes(route)), ['get /admin/queues']);
    assert.equal((await o.admin('get', '/admin/queues')).status, 200);
  });

  test('the public routes answer as documented', async () => {
    const { customer, subscription } = seedReader(o.h.stripe, { nowSeconds: Math.floor(START / 1000) });
    const checks: Array<[request.Response, string, string]> = [];
    const entitlement = (query: Record<string, string>, token: string | null = API_TOKEN) => {
      const req = request(o.app).get('/v1/entitlements').query(query);
      return token ? req.set('Authorization', `Bearer ${token}`) : req;
    };
    const event = o.h.stripe.makeEvent('customer.subscription.created', subscription);

    checks.push([await request(o.app).get('/healthz'), '/healthz', 'get']);
    checks.push([await request(o.app).get('/readyz'), '/readyz', 'get']);
    checks.push([await o.deliver(event), '/webhooks/stripe', 'post']);
    checks.push([await o.deliver(event), '/webhooks/stripe', 'post']);
    checks.push([await request(o.app).post('/webhooks/stripe').send('{}'), '/webhooks/stripe', 'post']);
    checks.push([await request(o.app).post('/webhooks/stripe').set('Stripe-Signature', 't=1,v1=0').set('Content-Encoding', 'gzip').send('{}'), '/webhooks/stripe', 'post']);
    await o.h.settle();
    checks.push([await entitlement({ customer: customer.id }), '/v1/entitlements', 'get']);
    checks.push([await entitlement({ user: 'nobody' }), '/v1/entitlements', 'get']);
    checks.push([await entitlement({ customer: 'nope' }), '/v1/entitlements', 'get']);
    checks.push([await entitlement({ customer: customer.id }, null), '/v1/entitlements', 'get']);
    checks.push([await request(o.app).get('/billing/update-card').query({ token: 'garbage' }), '/billing/update-card', 'get']);
    checks.push([await request(o.app).get('/metrics'), '/metrics', 'get']);

    assert.deepEqual(
      checks.map(([res]) => res.status),
      [200, 200, 200, 200, 400, 415, 200, 200, 400, 401, 400, 200],
    );
    assert.equal(checks[6]![0].body.status, 'active');
    for (const [res, path, method] of checks) assertMatchesOpenApi(res, path, method);
  });

  test('a body off its schema is caught', () => {
    const fake = { status: 200, headers: { 'content-type': 'application/json' }, body: { customer: 'cus_1', entitled: 'yes' } };
    assert.throws(() => assertMatchesOpenApi(fake as unknown as request.Response, '/v1/entitlements', 'get'), /matches its schema/);
  });
});
