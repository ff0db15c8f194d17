/**
 * The client's core on a Web-standard runtime: the built ES modules, loaded as a Cloudflare Worker by
 * workerd (through Miniflare, both from the npm registry), where there is no `process`, no `require` and
 * no `node:` module. The Worker gates a request against a listening subgate and streams what it saw: the
 * answer, the cached answer, the anonymous visitor, the fail-closed answer when subgate is unreachable,
 * and, after a signed webhook changes the reader, the change arriving on the feed and the answer it let
 * through. Beforehand the built core is read: it imports nothing but its own modules.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Miniflare } from 'miniflare';
import { API_TOKEN, createHarness, type Harness } from '../support/harness.js';
import { seedSubscriber, settleExpiry } from '../support/card-scenarios.js';

const root = process.cwd();
const dist = join(root, 'packages', 'client', 'dist');

/** Every module a built entry reaches, with the specifiers each one imports (static, dynamic, require). */
function moduleGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (file: string) => {
    if (graph.has(file)) return;
    const text = readFileSync(file, 'utf8');
    const specs = [
      ...text.matchAll(/^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/gm),
      ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ...text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]!);
    graph.set(file, specs);
    for (const spec of specs) if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
  };
  visit(entry);
  return graph;
}

/** The Worker: one request plays the whole story, streaming a JSON line per step. */
const workerSource = (core: string) => `
import { createEntitlementClient, createGate } from ${JSON.stringify(core)};

export default {
  async fetch(request, env, ctx) {
    const { readable, writable } = new TransformStream();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    const say = (o) => writer.write(encoder.encode(JSON.stringify(o) + '\\n'));
    const pick = (a) => ({ entitled: a.entitled, status: a.status, source: a.source });
    const story = (async () => {
      try {
        const runtime = { process: typeof process, require: typeof require, Buffer: typeof Buffer, userAgent: navigator.userAgent };
        let changed;
        const seen = new Promise((resolve) => (changed = resolve));
        const client = createEntitlementClient({
          baseUrl: env.SUBGATE_URL,
          token: env.SUBGATE_TOKEN,
          cache: { ttlMs: 600000 },
          onChange: (change) => { if (change.customer === env.CUSTOMER) changed(change); },
        });
        const gate = createGate({ client, getUserId: (req) => req.headers.get('x-reader') });
        await client.whenLive();
        const first = await gate(request);
        const cached = await gate(request);
        const anonymous = await gate(new Request('https://site.test/articles/x'));
        const down = createEntitlementClient({ baseUrl: 'http://127.0.0.1:9', token: 't', live: false, timeoutMs: 1000 });
        const unavailable = await down.checkUser('someone');
        await say({ step: 'before', runtime, live: client.liveState, first: pick(first), cached: cached.source, anonymous: anonymous.status, unavailable: pick(unavailable) });
        const change = await seen;
        const later = await gate(request);
        await say({ step: 'after', change: change.next.status, later: pick(later), stats: client.stats() });
        await client.close();
      } catch (err) {
        await say({ step: 'error', error: String((err && err.stack) || err) });
      } finally {
        await writer.close();
      }
    })();
    ctx.waitUntil(story);
    return new Response(readable, { headers: { 'content-type': 'application/x-ndjson' } });
  },
};
`;

describe('@subgate/client on a Web-standard runtime', () => {
  before(() => {
    execFileSync(process.execPath, [join(root, 'packages', 'client', 'build.mjs')], { cwd: root, stdio: 'pipe' });
  });

  test('the built core (ESM and CommonJS) imports only its own modules: nothing from node:, no package, no Node global', () => {
    for (const entry of [join(dist, 'esm', 'index.js'), join(dist, 'cjs', 'index.js')]) {
      const graph = moduleGraph(entry);
      assert.ok(graph.size >= 5, `${entry} reaches its modules (${graph.size})`);
      for (const [file, specs] of graph) {
        assert.deepEqual(specs.filter((s) => !s.startsWith('./')), [], `${file} imports only ./ modules`);
        const text = readFileSync(file, 'utf8');
        assert.doesNotMatch(text, /\bprocess\.|\bBuffer\b|\bglobal\./, `${file} uses no Node global`);
      }
      // The adapters stay out of the core.
      assert.ok(![...graph.keys()].some((f) => /express|fastify/.test(f)), `${entry} does not reach an adapter`);
    }
  });

  describe('as a Cloudflare Worker in workerd, against a listening subgate', () => {
    let h: Harness;
    let server: Server;
    let baseUrl: string;
    let work: string;
    let mf: Miniflare | undefined;

    before(async () => {
      h = await createHarness({ label: 'client-workerd', cardExpiry: {}, eventsHeartbeatMs: 100 });
      server = createServer(h.app);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      work = mkdtempSync(join(tmpdir(), 'subgate-client-worker-'));
    });
    after(async () => {
      await mf?.dispose();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await h.close();
      rmSync(work, { recursive: true, force: true });
    });

    test('gates a request: answers, the cache, anonymous, fail-closed, and a live invalidation from the change feed', { timeout: 60_000 }, async () => {
      const user = `${h.prefix}-edge-reader`;
      const sub = await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user, status: 'past_due', openInvoice: true, invoiceAgeDays: 30 });
      await settleExpiry(h);

      const script = join(work, 'worker.mjs');
      writeFileSync(script, workerSource(join(dist, 'esm', 'index.js')));
      mf = new Miniflare({
        modules: true,
        scriptPath: script,
        // Follows the imports itself: every module the core needs is loaded, and nothing else is there.
        modulesRoot: '/',
        modulesRules: [{ type: 'ESModule', include: ['**/*.js', '**/*.mjs'] }],
        compatibilityDate: '2025-01-01',
        bindings: { SUBGATE_URL: baseUrl, SUBGATE_TOKEN: API_TOKEN, CUSTOMER: sub.customerId },
      });

      const res = await mf.dispatchFetch('https://site.test/articles/the-story', { headers: { 'x-reader': user } });
      assert.equal(res.status, 200);
      const lines: Array<Record<string, unknown>> = [];
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      let delivered: Promise<{ status: number }> | undefined;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) !== -1) {
          const line = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
          buffered = buffered.slice(newline + 1);
          lines.push(line);
          if (line.step === 'before') {
            // The Worker holds the answer in its cache: the reader pays, and subgate hears it by a signed webhook.
            const subscription = h.stripe.getSubscription(sub.subscriptionId)!;
            subscription.status = 'active';
            subscription.latest_invoice = null;
            h.stripe.putSubscription(subscription);
            delivered = Promise.resolve(h.deliver(h.stripe.makeEvent('customer.subscription.updated', subscription)));
          }
        }
      }
      assert.equal((await delivered)?.status, 200, `the webhook was delivered (the Worker said ${JSON.stringify(lines)})`);

      const [seen, later] = lines;
      assert.deepEqual(seen, {
        step: 'before',
        runtime: { process: 'undefined', require: 'undefined', Buffer: 'undefined', userAgent: 'Cloudflare-Workers' },
        live: 'live',
        first: { entitled: false, status: 'payment_failed', source: 'network' },
        cached: 'cache',
        anonymous: 'anonymous',
        unavailable: { entitled: false, status: 'unavailable', source: 'unavailable' },
      });
      assert.equal(later?.step, 'after', JSON.stringify(later));
      assert.equal(later.change, 'active');
      // Let in by the change feed, inside the Worker, while the 10-minute TTL had not run out.
      assert.deepEqual(later.later, { entitled: true, status: 'active', source: 'network' });
      const stats = later.stats as { requests: number; hits: number; invalidated: number };
      assert.deepEqual([stats.requests, stats.hits], [2, 1]);
      assert.ok(stats.invalidated >= 1);
    });
  });
});
