/**
 * `@subgate/client` the way a content service in another repository meets it: `npm pack` of the workspace,
 * the tarball installed into throwaway projects outside this repository (ES modules, CommonJS, TypeScript
 * with `moduleResolution` node16, as ESM and as CommonJS, and bundler with Web types only), type-checked
 * with the compiler, then run against a listening subgate: a check, a cached check, the gate for an
 * anonymous visitor, and a live invalidation (a signed webhook changes the reader; the consumer's cache
 * drops the answer as the change arrives on the feed). publint and arethetypeswrong judge the tarball.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { API_TOKEN, createHarness, type Harness } from '../support/harness.js';
import { seedSubscriber, settleExpiry } from '../support/card-scenarios.js';
import { buildOpenApiDocument } from '../../src/http/openapi.js';

const run = promisify(execFile);
const root = process.cwd();
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const npmQuiet = ['--no-audit', '--no-fund', '--loglevel=error'];

/** The consumer's program, one body for every flavour; `imports` is its module system's way in. */
function consumerBody(typed: boolean): string {
  const t = (annotation: string) => (typed ? annotation : '');
  return `
const env = (globalThis as any).process.env;
const say = (o${t(': unknown')}) => (globalThis as any).process.stdout.write(JSON.stringify(o) + '\\n');
const pick = (a${t(': GateDecision')}) => ({ entitled: a.entitled, status: a.status, source: a.source });

async function main()${t(': Promise<void>')} {
  let changed${t(': (c: EntitlementChange) => void')} = () => undefined;
  const seen = new Promise${t('<EntitlementChange>')}((resolve) => (changed = resolve));
  const client = createEntitlementClient({
    baseUrl: env.SUBGATE_URL,
    token: env.SUBGATE_TOKEN,
    cache: { ttlMs: 600000 },
    onChange: (change) => { if (change.customer === env.CUSTOMER) changed(change); },
  });
  await client.whenLive();
  const first${t(': EntitlementCheck')} = await client.checkUser(env.READER);
  const cached = await client.checkUser(env.READER);
  const gate = createGate({ client, getUserId: (req${t(': { user: string | null }')}) => req.user });
  const anonymous = await gate({ user: null });
  say({ step: 'before', first: pick(first), cached: cached.source, anonymous: anonymous.status, adapters: ADAPTERS, liveState: client.liveState });
  const change = await seen;
  const later = await gate({ user: env.READER });
  say({ step: 'after', change: change.next.status, later: pick(later), stats: client.stats() });
  await client.close();
}
main().catch((err) => { say({ step: 'error', error: String((err && err.stack) || err) }); (globalThis as any).process.exit(1); });
`.replace(/ as any/g, typed ? ' as any' : '');
}

/** Lines a typed consumer adds: the declarations are real (not `any`), or these would not compile. */
const TYPE_PROBES = `
function probes(check: EntitlementCheck, client: EntitlementClient): void {
  if (check.status === 'unavailable') { const why: string = check.error; void why; }
  else { const url: string | null = check.update_card_url; void url; }
  // @ts-expect-error a lookup is by user or by customer, not both
  void client.check({ user: 'u', customer: 'c' });
  // @ts-expect-error the token is required
  void createEntitlementClient({ baseUrl: 'http://x' });
  const status: EntitlementStatus = 'card_expired';
  void status; void ANONYMOUS.status; void EntitlementClientError;
}
void probes;
`;

interface Consumer {
  name: string;
  type: 'module' | 'commonjs';
  files: Record<string, string>;
  /** Compiled by tsc with this tsconfig (else run as is). */
  tsconfig?: Record<string, unknown>;
  /** The file node runs. */
  main: string;
}

const ESM_IMPORTS = `import { createEntitlementClient, createGate } from '@subgate/client';
import * as express from '@subgate/client/express';
import * as fastify from '@subgate/client/fastify';
const ADAPTERS = [typeof express.requireEntitlement, typeof fastify.entitlementHook, express.ANONYMOUS === fastify.ANONYMOUS];`;
const CJS_IMPORTS = `const { createEntitlementClient, createGate } = require('@subgate/client');
const express = require('@subgate/client/express');
const fastify = require('@subgate/client/fastify');
const ADAPTERS = [typeof express.requireEntitlement, typeof fastify.entitlementHook, express.ANONYMOUS === fastify.ANONYMOUS];`;
const TS_IMPORTS = `import { ANONYMOUS, createEntitlementClient, createGate, EntitlementClientError } from '@subgate/client';
import type { EntitlementChange, EntitlementCheck, EntitlementClient, EntitlementStatus, GateDecision } from '@subgate/client';
// The adapters' declarations need their framework's types, which this project does not install.
const ADAPTERS = ['function', 'function', true];`;

const tsBase = (extra: Record<string, unknown>) => ({
  compilerOptions: { target: 'ES2022', strict: true, skipLibCheck: false, outDir: 'out', rootDir: '.', ...extra },
  files: ['consumer.ts'],
});

const CONSUMERS: Consumer[] = [
  { name: 'esm', type: 'module', files: { 'consumer.mjs': `${ESM_IMPORTS}\n${consumerBody(false)}` }, main: 'consumer.mjs' },
  { name: 'cjs', type: 'commonjs', files: { 'consumer.cjs': `${CJS_IMPORTS}\n${consumerBody(false)}` }, main: 'consumer.cjs' },
  {
    name: 'ts-node16-esm',
    type: 'module',
    files: { 'consumer.ts': `${TS_IMPORTS}\n${TYPE_PROBES}\n${consumerBody(true)}` },
    tsconfig: tsBase({ module: 'node16', moduleResolution: 'node16', lib: ['ES2022', 'DOM'], types: [] }),
    main: 'out/consumer.js',
  },
  {
    name: 'ts-node16-cjs',
    type: 'commonjs',
    files: { 'consumer.ts': `${TS_IMPORTS}\n${TYPE_PROBES}\n${consumerBody(true)}` },
    tsconfig: tsBase({ module: 'node16', moduleResolution: 'node16', lib: ['ES2022', 'DOM'], types: [] }),
    main: 'out/consumer.js',
  },
  {
    // What an edge or Next.js project compiles with: a bundler's resolution and Web types only, no @types/node.
    name: 'ts-bundler-web',
    type: 'module',
    files: { 'consumer.ts': `${TS_IMPORTS}\n${TYPE_PROBES}\n${consumerBody(true)}` },
    tsconfig: tsBase({ module: 'esnext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM'], types: [] }),
    main: 'out/consumer.js',
  },
];

function duBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (sum, e) => sum + (e.isDirectory() ? duBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );
}

/** Runs a consumer; hands each JSON line it prints to `onLine`, resolves when it exits 0. */
function runConsumer(cwd: string, main: string, env: Record<string, string>, onLine: (line: Record<string, unknown>) => void): Promise<void> {
  const child = spawn(process.execPath, [main], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const said: string[] = [];
  child.stderr.on('data', (chunk) => (stderr += chunk));
  createInterface({ input: child.stdout }).on('line', (text) => {
    said.push(text);
    onLine(JSON.parse(text) as Record<string, unknown>);
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return once(child, 'exit').then(([code, signal]) => {
    clearTimeout(killer);
    if (code !== 0) throw new Error(`${cwd}/${main} exited ${code ?? signal}; it said ${said.join(' ')}; stderr: ${stderr}`);
  });
}

describe('@subgate/client as a consumer installs it', () => {
  let work: string;
  let tarball: string;
  let pack: { size: number; unpackedSize: number; entryCount: number; version: string };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'subgate-client-consumers-'));
    // `npm pack` runs the package's `prepare`: the tarball holds a fresh build.
    const { stdout } = await run('npm', ['pack', '--workspace', '@subgate/client', '--pack-destination', work, '--json', ...npmQuiet], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    // Lifecycle output may precede the JSON array.
    const packed = (JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1 || stdout.indexOf('['))) as Array<typeof pack & { filename: string }>)[0]!;
    pack = packed;
    tarball = join(work, packed.filename);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('the tarball holds the builds, declarations, README and CHANGELOG, and no source or test', async (t) => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const entries = stdout.trim().split('\n').map((e) => e.replace(/^package\//, ''));
    for (const file of ['package.json', 'README.md', 'CHANGELOG.md', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json', 'dist/esm/express.js', 'dist/cjs/fastify.d.ts']) {
      assert.ok(entries.includes(file), `${file} in the tarball`);
    }
    assert.deepEqual(entries.filter((e) => !e.startsWith('dist/') && !['package.json', 'README.md', 'CHANGELOG.md'].includes(e)), []);
    t.diagnostic(`packed @subgate/client@${pack.version}: ${pack.size} bytes packed, ${pack.unpackedSize} bytes unpacked, ${pack.entryCount} files`);
  });

  test('its major version is the HTTP API version it speaks', () => {
    const major = pack.version.split('.')[0];
    const paths = Object.keys(buildOpenApiDocument().paths as Record<string, unknown>);
    assert.ok(paths.includes(`/v${major}/entitlements`), `/v${major}/entitlements among ${paths.join(', ')}`);
    assert.ok(paths.includes(`/v${major}/entitlements/events`));
  });

  test('publint and arethetypeswrong find no problem in the tarball', async (t) => {
    const lint = await run(bin('publint'), ['run', tarball, '--strict'], { cwd: work });
    assert.match(lint.stdout, /All good!/);
    t.diagnostic(`publint: ${lint.stdout.trim().split('\n').at(-1)}`);
    // Exits non-zero on any problem, in every resolution mode (node10, node16 from ESM and CJS, bundler).
    const attw = await run(bin('attw'), [tarball, '--format', 'table-flipped', '--no-color'], { cwd: work });
    assert.match(attw.stdout, /No problems found/);
    t.diagnostic(`attw: ${attw.stdout.split('\n').find((line) => line.includes('No problems found'))!.trim()} (node10, node16 from CJS and ESM, bundler; every entry point)`);
  });

  describe('installed into throwaway projects and run against a listening subgate', () => {
    let h: Harness;
    let server: Server;
    let baseUrl: string;

    before(async () => {
      h = await createHarness({ label: 'client-consumers', cardExpiry: {}, eventsHeartbeatMs: 100 });
      server = createServer(h.app);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await h.close();
    });

    test('ESM, CommonJS and TypeScript (node16 ESM and CJS, bundler with Web types) install it with no dependency, type-check, check and see a live invalidation', { timeout: 180_000 }, async (t) => {
      // Every consumer starts with a reader who is not entitled (a payment failed), each its own.
      const readers = new Map<string, { customerId: string; subscriptionId: string; user: string }>();
      for (const consumer of CONSUMERS) {
        const user = `${h.prefix}-${consumer.name}`;
        const sub = await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user, status: 'past_due', openInvoice: true, invoiceAgeDays: 30 });
        readers.set(consumer.name, { customerId: sub.customerId, subscriptionId: sub.subscriptionId, user });
      }
      await settleExpiry(h);

      await Promise.all(
        CONSUMERS.map(async (consumer) => {
          const dir = join(work, consumer.name);
          mkdirSync(dir);
          writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${consumer.name}`, private: true, type: consumer.type }));
          for (const [file, text] of Object.entries(consumer.files)) writeFileSync(join(dir, file), text);
          // A local tarball with no dependencies: nothing to fetch.
          await run('npm', ['install', tarball, '--offline', '--no-package-lock', ...npmQuiet], { cwd: dir });
          if (consumer.tsconfig) {
            writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(consumer.tsconfig));
            await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir }).catch((err: { stdout?: string }) => {
              throw new Error(`tsc in ${consumer.name}:\n${err.stdout}`);
            });
          }
        }),
      );

      for (const consumer of CONSUMERS) {
        const modules = join(work, consumer.name, 'node_modules');
        const installed = readdirSync(modules).filter((name) => !name.startsWith('.'));
        assert.deepEqual(installed, ['@subgate'], `${consumer.name}: only the package itself is installed`);
        assert.deepEqual(readdirSync(join(modules, '@subgate')), ['client']);
        const manifest = JSON.parse(readFileSync(join(modules, '@subgate', 'client', 'package.json'), 'utf8')) as Record<string, unknown>;
        assert.equal(manifest.dependencies, undefined, 'no runtime dependencies');
      }
      t.diagnostic(`installed size: ${duBytes(join(work, CONSUMERS[0]!.name, 'node_modules', '@subgate', 'client'))} bytes, 0 dependencies`);

      // One at a time: a consumer sees every change on the feed, and another's change arriving while its own
      // first ask is out rightly keeps that answer out of its cache.
      for (const consumer of CONSUMERS) {
          const reader = readers.get(consumer.name)!;
          const lines: Array<Record<string, unknown>> = [];
          let delivered: Promise<{ status: number }> | undefined;
          const env = { SUBGATE_URL: baseUrl, SUBGATE_TOKEN: API_TOKEN, READER: reader.user, CUSTOMER: reader.customerId };
          await runConsumer(join(work, consumer.name), consumer.main, env, (line) => {
            lines.push(line);
            if (line.step !== 'before') return;
            // The consumer has its answer cached: the reader pays, and subgate hears it by a signed webhook.
            const subscription = h.stripe.getSubscription(reader.subscriptionId)!;
            subscription.status = 'active';
            subscription.latest_invoice = null;
            h.stripe.putSubscription(subscription);
            // supertest sends on then(): start it now, await it after the consumer is done.
            delivered = Promise.resolve(h.deliver(h.stripe.makeEvent('customer.subscription.updated', subscription)));
          }).catch(async (err: Error) => {
            const now = (await h.entitlement({ customer: reader.customerId })).body as { status: string };
            throw new Error(`${err.message}\n(subgate says ${now.status} for ${reader.customerId} now)`);
          });
          assert.equal((await delivered)?.status, 200, `${consumer.name}: the webhook was delivered`);
          const [before, later] = lines;
          assert.deepEqual(before, {
            step: 'before',
            first: { entitled: false, status: 'payment_failed', source: 'network' },
            cached: 'cache',
            anonymous: 'anonymous',
            adapters: ['function', 'function', true],
            liveState: 'live',
          }, consumer.name);
          assert.equal(later?.step, 'after', `${consumer.name}: ${JSON.stringify(later)}`);
          assert.equal(later.change, 'active');
          // Let in at once by the change feed, although the cached answer's 10-minute TTL had not run out.
          assert.deepEqual(later.later, { entitled: true, status: 'active', source: 'network' }, consumer.name);
          assert.equal((later.stats as { requests: number }).requests, 2, `${consumer.name}: one request before, one after the change`);
          assert.ok((later.stats as { invalidated: number }).invalidated >= 1);
      }
    });
  });
});
