/**
 * `npm run bench:feed [-- --ref <git-ref>|--no-ref] [-- --seconds 20] [-- --connections 200] [-- --rate 500]`:
 * what the API process pays when many change-feed clients resume from near the oldest of 100,000 kept
 * entries. 100,000 changes are published through the real feed writer (~400-byte entries, as in
 * production) on a throwaway redis-server, with 1,000 customers to check; for each run a fresh API
 * process (bench/servers/subgate-api.ts, compiled, as src/main.ts wires the feed) serves them while
 * another process (bench/servers/feed-replayers.ts) keeps N streams replaying from the 10th entry (read
 * at full speed to `ready` or the end, again 250 ms later), and autocannon asks GET /v1/entitlements at
 * a steady offered rate. Reported per run: the API's RSS (peak, and the median of samples every 500 ms
 * while measuring) and the checks' latency, next to the same API with no feed client.
 *
 * `--ref` (default `main`) builds the same API server from that commit's src/ (git archive into a
 * temporary directory) for the "before" figures (a commit that has src/composition.ts: the server is built
 * by it); this tree runs twice: with the default feed limits, and with
 * the max replay and the per-token cap raised so every client really replays the whole backlog.
 * Writes bench/tmp/feed-replay.json and prints a table. Never part of `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startDisposableRedis } from '../test/support/redis.js';
import { createEntitlementFeed } from '../src/store/entitlement-feed.js';
import type { EntitlementSummary } from '../src/domain/entitlement-change.js';
import { makeCustomers } from './lib/fixtures.js';
import { redisVersion, seedCustomers } from './lib/redis-data.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { buildServers, REPO_ROOT, startServerFile, type ServerProcess } from './lib/server-process.js';
import { machineMeta } from './lib/report.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};
const ref = args.includes('--no-ref') ? null : option('ref', 'main');
const S = {
  entries: 100_000,
  customers: 1_000,
  connections: Number(option('connections', '200')),
  seconds: Number(option('seconds', '20')),
  rate: Number(option('rate', '500')),
  loadConnections: 10,
  warmupS: 3,
  pauseMs: 250,
  /** The resume point: this many entries from the oldest kept one. */
  resumeAt: 10,
};
const PREFIX = 'benchfeed';
const TOKEN = 'bench-content-service-token-0001';
const WEBHOOK_SECRET = 'whsec_bench_0000000000000000000001';
const BUILD = join(REPO_ROOT, 'bench', 'tmp', 'build', 'bench', 'servers');
const log = (text: string) => console.error(`bench:feed: ${text}`);

/**
 * The API server compiled against `gitRef`'s src/ and workers/ (type errors there only warn), in a
 * directory outside the repo (so the repo's own type check never sees that tree) that borrows this
 * repo's node_modules.
 */
const refDir = (gitRef: string) => join(tmpdir(), `subgate-bench-ref-${gitRef.replace(/[^\w.-]/g, '_')}`);

function buildFromRef(gitRef: string): string {
  const dir = refDir(gitRef);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bench', 'servers'), { recursive: true });
  mkdirSync(join(dir, 'bench', 'lib'), { recursive: true });
  const archive = spawnSync('git', ['archive', '--format=tar', gitRef, 'src', 'workers'], { cwd: REPO_ROOT, maxBuffer: 1 << 28 });
  if (archive.status !== 0) throw new Error(`git archive ${gitRef}: ${archive.stderr.toString()}`);
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar: ${untar.stderr.toString()}`);
  copyFileSync(join(REPO_ROOT, 'bench', 'servers', 'subgate-api.ts'), join(dir, 'bench', 'servers', 'subgate-api.ts'));
  copyFileSync(join(REPO_ROOT, 'bench', 'lib', 'child.ts'), join(dir, 'bench', 'lib', 'child.ts'));
  copyFileSync(join(REPO_ROOT, 'bench', 'lib', 'bench-config.ts'), join(dir, 'bench', 'lib', 'bench-config.ts'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  const tsconfig = {
    extends: join(REPO_ROOT, 'tsconfig.json'),
    compilerOptions: { noEmit: false, sourceMap: false, rootDir: '.', outDir: 'build' },
    include: ['src', 'workers', 'bench'],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  const tsc = spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8' });
  if (tsc.status !== 0) log(`tsc reported type errors building ${gitRef} (expected: options it does not know):\n${tsc.stdout.slice(0, 1500)}`);
  return join(dir, 'build', 'bench', 'servers', 'subgate-api.js');
}

interface Run {
  label: string;
  apiFile: string;
  feedOptions: Record<string, number>;
  clients: number;
}

interface RunFigures {
  label: string;
  clients: number;
  feedOptions: Record<string, number>;
  idleRss: number | null;
  peakRss: number | null;
  medianRss: number | null;
  samples: number;
  checks: LoadResult | null;
  feed: Record<string, unknown> | null;
  problem: string | null;
}

const median = (values: number[]) => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

async function measure(run: Run, env: Record<string, string>, resumeId: string, customerIds: string[]): Promise<RunFigures> {
  const figures: RunFigures = { label: run.label, clients: run.clients, feedOptions: run.feedOptions, idleRss: null, peakRss: null, medianRss: null, samples: 0, checks: null, feed: null, problem: null };
  log(`${run.label}: starting`);
  let api: ServerProcess | null = null;
  let replayers: ServerProcess | null = null;
  try {
    api = await startServerFile('subgate-api', run.apiFile, { env: { ...env, BENCH_FEED_OPTIONS: JSON.stringify(run.feedOptions) } });
    figures.idleRss = (await api.usage()).rss;
    if (run.clients > 0) {
      replayers = await startServerFile('feed-replayers', join(BUILD, 'feed-replayers.js'), {
        env: {
          BENCH_FEED_PORT: String(api.port),
          BENCH_TOKEN: TOKEN,
          BENCH_FEED_LAST_ID: resumeId,
          BENCH_FEED_CONNECTIONS: String(run.clients),
          BENCH_FEED_PAUSE_MS: String(S.pauseMs),
        },
      });
      await replayers.request('start');
    }
    await sleep(S.warmupS * 1000);
    const rss: number[] = [];
    let sampling = false;
    const target = api;
    const sampler = setInterval(() => {
      if (sampling) return;
      sampling = true;
      target
        .usage()
        .then((u) => rss.push(u.rss))
        .catch(() => undefined)
        .finally(() => (sampling = false));
    }, 500);
    const headers = { authorization: `Bearer ${TOKEN}` };
    let next = 0;
    figures.checks = await runLoad({
      port: api.port,
      next: () => ({ path: `/v1/entitlements?customer=${customerIds[next++ % customerIds.length]}`, headers }),
      connections: S.loadConnections,
      overallRate: S.rate,
      durationS: S.seconds,
    });
    clearInterval(sampler);
    figures.samples = rss.length;
    figures.medianRss = median(rss);
    figures.peakRss = (await api.request<{ maxRss: number }>('usage', {}, 30_000).catch(() => null))?.maxRss ?? null;
    if (replayers) figures.feed = await replayers.request('stats');
  } catch (err) {
    figures.problem = (err as Error).message.slice(0, 500);
    log(`${run.label}: ${figures.problem}`);
  } finally {
    await replayers?.stop().catch(() => undefined);
    await api?.stop().catch(() => undefined);
  }
  const c = figures.checks;
  log(`${run.label}: RSS peak ${mb(figures.peakRss)}, median ${mb(figures.medianRss)}; checks p50 ${c?.p50} ms p99 ${c?.p99} ms, ${c?.non2xx} non-2xx, ${c?.errors} errors`);
  return figures;
}

const mb = (bytes: number | null) => (bytes === null ? '—' : `${Math.round(bytes / (1024 * 1024))} MB`);

async function main(): Promise<void> {
  log('compiling servers');
  buildServers();
  const refFile = ref ? buildFromRef(ref) : null;

  const redisServer = await startDisposableRedis();
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null, enableAutoPipelining: true });
  redis.on('error', () => undefined);
  try {
    log(`seeding ${S.customers} customers and ${S.entries.toLocaleString('en-US')} changes through the feed writer`);
    const customers = makeCustomers(S.customers);
    await seedCustomers(redis, PREFIX, customers);
    const feed = createEntitlementFeed({ redis, prefix: PREFIX, maxLength: S.entries });
    const summary: EntitlementSummary = { entitled: true, status: 'active', reason: 'subscribed', card: 'pm_1QbenchCard0000000000' };
    const pad = 'x'.repeat(170);
    for (let i = 0; i < S.entries; i += 1000) {
      await Promise.all(
        Array.from({ length: Math.min(1000, S.entries - i) }, (_, j) =>
          feed.publishIfChanged({ customerId: `cus_feedbench${i + j}`, user: `reader-${i + j}-${pad}`, version: 1, summary, at: Date.now() }),
        ),
      );
    }
    const length = await redis.xlen(feed.streamKey);
    const streamBytes = Number(await redis.call('MEMORY', 'USAGE', feed.streamKey, 'SAMPLES', '0'));
    const [resume] = (await redis.xrange(feed.streamKey, '-', '+', 'COUNT', S.resumeAt)).slice(-1);
    const resumeId = resume![0];
    log(`stream: ${length} entries, ${mb(streamBytes)} in Redis (${Math.round(streamBytes / length)} bytes each); resuming from ${resumeId}`);

    const env = { BENCH_REDIS_URL: redisServer.url, BENCH_PREFIX: PREFIX, BENCH_TOKEN: TOKEN, BENCH_WEBHOOK_SECRET: WEBHOOK_SECRET };
    const tree = join(BUILD, 'subgate-api.js');
    const runs: Run[] = [];
    if (refFile) {
      runs.push({ label: `${ref}: no feed client`, apiFile: refFile, feedOptions: {}, clients: 0 });
      runs.push({ label: `${ref}: ${S.connections} replaying`, apiFile: refFile, feedOptions: {}, clients: S.connections });
    }
    runs.push({ label: 'this tree: no feed client', apiFile: tree, feedOptions: {}, clients: 0 });
    runs.push({ label: `this tree, default limits: ${S.connections} replaying`, apiFile: tree, feedOptions: {}, clients: S.connections });
    runs.push({
      label: `this tree, max replay ${S.entries.toLocaleString('en-US')} and ${S.connections} per token: ${S.connections} replaying`,
      apiFile: tree,
      feedOptions: { maxReplay: S.entries, maxConnectionsPerToken: S.connections },
      clients: S.connections,
    });
    const results: RunFigures[] = [];
    for (const run of runs) results.push(await measure(run, env, resumeId, customers.map((c) => c.id)));

    const meta = machineMeta('full', await redisVersion(redis), { ...S, ref: ref ?? 'none', streamLength: length, streamBytes });
    mkdirSync(join(REPO_ROOT, 'bench', 'tmp'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench', 'tmp', 'feed-replay.json'), JSON.stringify({ meta, results }, null, 2));
    console.log(`\nFeed replay: ${S.connections} streams resuming from the ${S.resumeAt}th of ${length.toLocaleString('en-US')} entries (${mb(streamBytes)} in Redis); checks at ${S.rate} req/s offered over ${S.loadConnections} connections for ${S.seconds} s; node ${process.version}, ${meta.cores} cores\n`);
    console.log('| run | API RSS idle | RSS peak | RSS median (load) | check p50 ms | check p99 ms | non-2xx | errors | feed streams: opened / 200 / 429 / 503 | ready | reset | cut before ready | MB sent to feed clients |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|');
    for (const r of results) {
      const f = r.feed as { streams: number; byStatus: Record<string, number>; readies: number; resets: number; cutBeforeReady: number; bytes: number } | null;
      const c = r.checks;
      const feedCell = f ? `${f.streams} / ${f.byStatus['200'] ?? 0} / ${f.byStatus['429'] ?? 0} / ${f.byStatus['503'] ?? 0}` : '—';
      console.log(
        `| ${r.label}${r.problem ? ` (problem: ${r.problem.slice(0, 120)})` : ''} | ${mb(r.idleRss)} | ${mb(r.peakRss)} | ${mb(r.medianRss)} | ${c?.p50 ?? '—'} | ${c?.p99 ?? '—'} | ${c?.non2xx ?? '—'} | ${c ? c.errors + c.timeouts : '—'} | ${feedCell} | ${f?.readies ?? '—'} | ${f?.resets ?? '—'} | ${f?.cutBeforeReady ?? '—'} | ${f ? Math.round(f.bytes / (1024 * 1024)) : '—'} |`,
      );
    }
  } finally {
    await redis.quit().catch(() => undefined);
    await redisServer.stop();
    if (refFile) rmSync(refDir(ref!), { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
