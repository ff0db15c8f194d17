/**
 * `npm run bench [-- --quick] [-- --profile]`: subgate's figures side by side with the stack's own floor,
 * all measured in one run on this machine. Servers run compiled, one at a time, each in its own child
 * process; autocannon runs here; Redis is a throwaway redis-server on a free port. Writes
 * bench/RESULTS.md and bench/results.json (quick runs: bench/tmp/), and exits non-zero only on errors.
 *   --quick    3 s per figure, a 5,000-event backlog and the expiry sweep among 100,000 instead of
 *              1,000,000 subscribers, 15 client-cache invalidation trials instead of 50: under two minutes
 * The client-cache figures run last, in this process, on the content-gate stack (bench/lib/client-cache.ts).
 *   --profile  also writes `node --cpu-prof` profiles of the API, worker and sweep processes to bench/tmp/profiles
 *              (summarise one with `npx tsx bench/profile-summary.ts <file>`)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDisposableRedis } from '../test/support/redis.js';
import { Redis } from 'ioredis';
import { waitUntilReady } from '../src/store/redis-connections.js';
import { createQueues } from '../src/queues.js';
import { measureAllInOne } from './lib/all-in-one.js';
import { measureAccessLane } from './lib/access-lane.js';
import { measureRenewalBudget } from './lib/renewal-budget.js';
import { makeCustomers, signedEventPool, type SignedEvent } from './lib/fixtures.js';
import { interleaved, type Contender, type LoadResult } from './lib/load.js';
import { buildServers, startServer, REPO_ROOT, type ServerName, type ServerProcess } from './lib/server-process.js';
import { deletePrefix, redisVersion, seedBaselineHashes, seedCustomers, subscriberMemory, usedMemory } from './lib/redis-data.js';
import { measureWorkers } from './lib/worker-figures.js';
import { STRIPE_REREAD_LABEL, SWEEP_EXPIRED, describeSweep, sweepProblems, type SweepFigures } from './lib/expiry-sweep.js';
import { runExpirySweep } from './lib/sweep-runner.js';
import { measureClientCache, percentile } from './lib/client-cache.js';
import { absolute, compared, machineMeta, writeResults, type Figure, type RunRecord } from './lib/report.js';

const quick = process.argv.includes('--quick');
const profile = process.argv.includes('--profile');
const S = {
  customers: 10_000,
  warmupS: quick ? 1 : 2,
  /** Measured time per server = segments × segmentS, taken in turns with the servers it is compared with. */
  segments: quick ? 3 : 10,
  segmentS: 1,
  connections: 50,
  fixedRate: 2000,
  backlog: quick ? 5000 : 20_000,
  /** The all-in-one figure's backlog: enough that its workers are still draining when the turns end. */
  allInOneBacklog: quick ? 20_000 : 60_000,
  /** Its Stripe budget: `npm start`'s default, STRIPE_API_RATE_LIMIT=20 (the figure notes it). */
  allInOneStripeRate: 20,
  burst: 50,
  memorySample: 1000,
  /** Sizes the pre-signed webhook pools: no server here takes this many events per second. */
  maxWebhookRate: 4000,
  workerConcurrency: 8,
  debounceMs: 500,
  /** The expiry sweep: 10,000 expired cards among 10,000 subscribers, and among this many. */
  sweepBig: quick ? 100_000 : 1_000_000,
  sweepConcurrency: 64,
  sweepTargetS: 5,
  /** Client cache: readers held in the client's cache, the bounded warm loop, invalidation trials. */
  clientReaders: 200,
  clientWarmMs: 2000,
  clientUncachedConcurrency: 50,
  clientTrials: quick ? 15 : 50,
  clientLagTargetMs: 500,
  /** Routine events queued ahead of one cancellation, refreshed at the default Stripe budget (20 req/s). */
  accessLaneRoutine: quick ? 2000 : 10_000,
  accessLaneTargetS: 5,
  /** Customers whose seven-event renewal is fed through the workers: 1,001 events. */
  renewalCustomers: 143,
};
const PREFIX = 'bench';
const B4_PREFIX = 'benchb4';
const TOKEN = 'bench-content-service-token-0001';
const WEBHOOK_SECRET = 'whsec_bench_0000000000000000000001';
const cpuProfileDir = join(REPO_ROOT, 'bench', 'tmp', 'profiles');
const OUT_DIR = quick ? join(REPO_ROOT, 'bench', 'tmp') : join(REPO_ROOT, 'bench');

const runs: RunRecord[] = [];
const problems: string[] = [];
const notes: string[] = [];
const log = (text: string) => console.error(`bench: ${text}`);

/** Records a run; any non-2xx answer or socket error means the bench (or the server) is broken. */
function record(name: string, server: string, result: LoadResult, offeredRate: number | null = null): LoadResult {
  runs.push({ name, server, connections: S.connections, offeredRate, ...result });
  log(`${name}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms (${result.requests} requests, ${result.non2xx} non-2xx, ${result.errors} errors)`);
  if (result.non2xx > 0 || result.errors > 0) problems.push(`${name}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return result;
}

async function main(): Promise<void> {
  const started = performance.now();
  log(`${quick ? 'quick' : 'full'} run; compiling servers`);
  buildServers();

  const redisServer = await startDisposableRedis();
  // No command timeout here: the orchestrator's own event loop can stall while it signs pools or drives load.
  const redis = new Redis(redisServer.url, { connectionName: 'bench-orchestrator', enableAutoPipelining: true, maxRetriesPerRequest: null });
  redis.on('error', () => {});
  await waitUntilReady(redis);
  const env = { BENCH_REDIS_URL: redisServer.url, BENCH_PREFIX: PREFIX, BENCH_TOKEN: TOKEN, BENCH_WEBHOOK_SECRET: WEBHOOK_SECRET };

  try {
    log(`seeding ${S.customers} customers`);
    const customers = makeCustomers(S.customers);
    const ids = customers.map((c) => c.id);
    const before = await usedMemory(redis);
    await seedCustomers(redis, PREFIX, customers);
    const usedPerSubscriber = ((await usedMemory(redis)) - before) / customers.length;
    const memory = await subscriberMemory(redis, PREFIX, customers, S.memorySample);
    await seedBaselineHashes(redis);

    const paths = ids.map((id) => `/v1/entitlements?customer=${id}`);
    const authHeaders = { authorization: `Bearer ${TOKEN}` };
    const nextEntitlement = () => ({ path: paths[Math.floor(Math.random() * paths.length)]!, headers: authHeaders });
    // The same readers asked about one feature (feature=): the answer per feature must cost no more.
    const featurePaths = ids.map((id) => `/v1/entitlements?customer=${id}&feature=content`);
    const nextFeature = () => ({ path: featurePaths[Math.floor(Math.random() * featurePaths.length)]!, headers: authHeaders });
    const getFeature = (server: ServerProcess): Contender => ({
      label: `${server.name}+feature`,
      spec: () => ({ port: server.port, next: nextFeature, connections: S.connections }),
    });
    const get = (server: ServerProcess, overallRate?: number): Contender => ({
      label: `${server.name}${overallRate ? '@rate' : ''}`,
      spec: () => ({ port: server.port, next: nextEntitlement, connections: S.connections, ...(overallRate ? { overallRate } : {}) }),
    });
    // Webhooks: one pool of distinct events per server, signed just before its group runs.
    const pools = new Map<string, { pool: SignedEvent[]; used: number }>();
    const post = (server: ServerProcess): Contender => {
      const state = { pool: signedEventPool(S.maxWebhookRate * (S.warmupS + S.segments * S.segmentS), ids, WEBHOOK_SECRET, `${server.name.slice(0, 2)}x`), used: 0 };
      pools.set(server.name, state);
      const next = () => {
        const event = state.pool[Math.min(state.used++, state.pool.length - 1)]!;
        return { path: '/webhooks/stripe', method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': event.header }, body: event.payload };
      };
      return {
        label: server.name,
        spec: () => ({ port: server.port, next, method: 'POST', connections: S.connections, maxRequests: Math.max(S.connections, state.pool.length - state.used - 2 * S.connections) }),
      };
    };
    const rounds = { segments: S.segments, segmentS: S.segmentS, warmupS: S.warmupS };

    log('starting servers');
    const servers: ServerProcess[] = [];
    const idleRss = new Map<string, number>();
    const start = async (name: ServerName, extraEnv: Record<string, string> = {}, cpuProfile = false) => {
      const server = await startServer(name, { env: { ...env, ...extraEnv }, ...(cpuProfile ? { cpuProfileDir } : {}) });
      servers.push(server);
      idleRss.set(name, (await server.usage()).rss);
      return server;
    };
    let httpFigures;
    try {
      const b1s = await start('b1-express-const');
      const b2s = await start('b2-express-hgetall');
      const b3s = await start('b3-http-hgetall');
      const b4s = await start('b4-naive-webhook', { BENCH_PREFIX: B4_PREFIX });
      const apis = await start('subgate-api', {}, profile);

      log('GET: B1, B2, B3 and the entitlement route, interleaved');
      const full = await interleaved([get(b1s), get(b2s), get(b3s), get(apis), getFeature(apis)], rounds);
      const measured = (server: ServerProcess) => record(`GET ${server.name}`, server.name, full.get(server.name)!);
      const [b1, b2, b3, ent] = [measured(b1s), measured(b2s), measured(b3s), measured(apis)];
      const entFeature = record(`GET ${apis.name} feature=`, apis.name, full.get(`${apis.name}+feature`)!);
      const rss = { b1: (await b1s.usage()).maxRss, api: (await apis.usage()).maxRss };

      log(`GET at ${S.fixedRate} req/s offered: B2 and the entitlement route, interleaved`);
      const fixed = await interleaved([get(b2s, S.fixedRate), get(apis, S.fixedRate)], rounds);
      const b2Fixed = record(`GET ${b2s.name} at fixed rate`, b2s.name, fixed.get(`${b2s.name}@rate`)!, S.fixedRate);
      const entFixed = record(`GET ${apis.name} at fixed rate`, apis.name, fixed.get(`${apis.name}@rate`)!, S.fixedRate);

      log('POST: B4 and the webhook route, interleaved');
      const hooks = await interleaved([post(b4s), post(apis)], rounds);
      const b4 = record(`POST ${b4s.name}`, b4s.name, hooks.get(b4s.name)!);
      const hook = record(`POST ${apis.name}`, apis.name, hooks.get(apis.name)!);
      const rssAfterHooks = { b4: (await b4s.usage()).maxRss, api: (await apis.usage()).maxRss };
      const idle = { b1: idleRss.get(b1s.name)!, api: idleRss.get(apis.name)! };
      httpFigures = { b1, b2, b3, b4, ent, entFeature, b2Fixed, entFixed, hook, rss, rssAfterHooks, idle };
    } finally {
      for (const server of servers) await server.stop();
    }
    const { b1, b2, b3, b4, ent, entFeature, b2Fixed, entFixed, hook, rss, rssAfterHooks, idle } = httpFigures;

    // Every 200 from the webhook route must be a stored event id and a queued job; no pool may run dry.
    const producer = createQueues(redis, PREFIX);
    const counts = await producer.stripeEvents.getJobCounts('waiting', 'prioritized', 'delayed');
    await producer.close();
    const queued = Object.values(counts).reduce((a, b) => a + b, 0);
    const sent = pools.get('subgate-api')!.used;
    if (queued < hook.ok || queued > sent) problems.push(`webhook: ${hook.ok} measured 200s and ${sent} requests sent, but ${queued} jobs queued`);
    for (const [name, state] of pools) if (state.used >= state.pool.length) problems.push(`${name}: the webhook pool of ${state.pool.length} ran out; raise maxWebhookRate`);
    await deletePrefix(redis, B4_PREFIX);
    await deletePrefix(redis, `${PREFIX}:stripe-events`);
    await deletePrefix(redis, `${PREFIX}:evt`);

    log(`workers: ${S.backlog}-event backlog`);
    const workers = await measureWorkers({
      redis,
      redisUrl: redisServer.url,
      prefix: PREFIX,
      customers,
      backlog: S.backlog,
      burst: S.burst,
      debounceMs: S.debounceMs,
      concurrency: S.workerConcurrency,
      stripeRequestsPerSecond: 10_000,
      timeoutMs: quick ? 60_000 : 180_000,
      ...(profile ? { cpuProfileDir } : {}),
    });
    log(`workers: ${workers.eventsPerSecond.toFixed(0)} events/s, ${workers.syncs} syncs, burst -> ${workers.burstCustomerRetrieves} retrieves`);
    if (workers.timedOut || workers.burstTimedOut) problems.push('workers: the queues did not drain in time');
    if (workers.eventsFailed > 0 || workers.syncsFailed > 0) problems.push(`workers: ${workers.eventsFailed} event jobs and ${workers.syncsFailed} sync jobs failed`);

    // `npm start`: the API and the workers in one process, a backlog queued for them and the sweep due, the
    // entitlement check at the fixed rate beside B2, taking turns as above.
    log(`all-in-one (npm start): GET at ${S.fixedRate} req/s while the workers drain a ${S.allInOneBacklog}-event backlog and the sweep runs, beside B2`);
    const aio = await measureAllInOne({
      redis,
      prefix: PREFIX,
      env,
      customers,
      backlog: S.allInOneBacklog,
      stripeRequestsPerSecond: S.allInOneStripeRate,
      contender: (server) => get(server, S.fixedRate),
      rounds,
      ...(profile ? { cpuProfileDir } : {}),
    });
    const allInOne = {
      ...aio,
      b2: record('GET b2-express-hgetall at fixed rate, beside the all-in-one', 'b2-express-hgetall', aio.b2, S.fixedRate),
      ent: record('GET subgate-all-in-one at fixed rate (backlog draining, sweep due)', 'subgate-all-in-one', aio.ent, S.fixedRate),
    };
    log(`all-in-one: event-loop delay p99 ${allInOne.loop.p99Ms.toFixed(1)} ms, max ${allInOne.loop.maxMs.toFixed(1)} ms; ${allInOne.left} event and refresh jobs still queued at the end`);
    if (allInOne.left === 0) notes.push('All-in-one: the backlog was drained before the measurement ended; raise the backlog for this figure.');
    await deletePrefix(redis, `${PREFIX}:stripe-events`);
    await deletePrefix(redis, `${PREFIX}:customer-sync`);
    await deletePrefix(redis, `${PREFIX}:card-expiry`);
    await deletePrefix(redis, `${PREFIX}:evt`);

    // The access lane and the Stripe budget per 1,000 renewal events, in this process on the harness.
    log(`access lane: a cancellation behind ${S.accessLaneRoutine.toLocaleString('en-US')} routine events, Stripe budget 20 req/s`);
    const lane = await measureAccessLane({ redisUrl: redisServer.url, routine: S.accessLaneRoutine, timeoutMs: 60_000 });
    log(`access lane: answer changed ${(lane.changedAfterMs / 1000).toFixed(2)} s after the workers started, ${lane.refreshesBefore} refreshes before it`);
    if (lane.timedOut) problems.push('access lane: the cancelled reader\'s answer did not change within 60 s');
    log(`Stripe budget: the renewal mix for ${S.renewalCustomers} customers, burst and spread`);
    const budgets = [];
    for (const pattern of ['burst', 'spread'] as const) budgets.push(await measureRenewalBudget({ redisUrl: redisServer.url, customers: S.renewalCustomers, pattern, debounceMs: S.debounceMs }));

    // The expiry sweep, on a Redis of its own (each scale flushes it), in a compiled child per scale. The
    // 10,000 scale runs before and after the big one, so drift on a shared machine is averaged into the
    // ratio's baseline rather than landing on one side of it; full runs then time it once with the stub.
    pools.clear();
    const sweepRedis = await startDisposableRedis();
    const sweeps: { small: SweepFigures[]; big: SweepFigures; stub: SweepFigures | null } = { small: [], big: null as never, stub: null };
    try {
      const sweepAt = async (subscribers: number, stripe: 'double' | 'stub' = 'double') => {
        log(`expiry sweep: ${SWEEP_EXPIRED.toLocaleString('en-US')} expired cards among ${subscribers.toLocaleString('en-US')} subscribers (Stripe ${stripe})`);
        const f = await runExpirySweep({
          redisUrl: sweepRedis.url,
          subscribers,
          stripe,
          concurrency: S.sweepConcurrency,
          timeoutMs: 120_000,
          ...(profile ? { cpuProfileDir } : {}),
        });
        log(`expiry sweep: ${describeSweep(f)}`);
        problems.push(...sweepProblems(f));
        return f;
      };
      sweeps.small.push(await sweepAt(10_000));
      sweeps.big = await sweepAt(S.sweepBig);
      sweeps.small.push(await sweepAt(10_000));
      if (!quick) sweeps.stub = await sweepAt(10_000, 'stub');
    } finally {
      await sweepRedis.stop();
    }

    // The client cache, on the content-gate stack in this process (subgate app + workers + Stripe double +
    // createEntitlementClient), on the bench's Redis under a prefix of its own.
    log(`client cache: warm check() for ${S.clientReaders} cached readers, then ${S.clientTrials} card fixes (signed customer.updated webhooks)`);
    const cc = await measureClientCache(
      {
        redisUrl: redisServer.url,
        readers: S.clientReaders,
        warmMs: S.clientWarmMs,
        uncachedConcurrency: S.clientUncachedConcurrency,
        trials: S.clientTrials,
        trialTimeoutMs: 15_000,
      },
      log,
    );
    problems.push(...cc.problems);
    if (cc.lagsMs.length < S.clientTrials) problems.push(`client cache: only ${cc.lagsMs.length} of ${S.clientTrials} invalidation trials completed`);
    const lagP50 = percentile(cc.lagsMs, 50);
    const lagP99 = percentile(cc.lagsMs, 99);
    const msText = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} ms`);

    const mb = (bytes: number) => bytes / 1024 / 1024;
    const seconds = (ms: number) => ms / 1000;
    const sweepSmallS = seconds(sweeps.small.reduce((sum, f) => sum + f.totalMs, 0) / sweeps.small.length);
    const sweepBigS = seconds(sweeps.big.totalMs);
    const bigLabel = S.sweepBig.toLocaleString('en-US');
    const sweepDetail = (f: SweepFigures) =>
      `seeded in ${seconds(f.seedMs).toFixed(1)} s, sweep job done at ${seconds(f.sweepDoneMs).toFixed(2)} s, all flagged at ${seconds(f.totalMs).toFixed(2)} s`;
    const sweepBigFigure = compared({
      id: quick ? 'expiry_sweep_100k' : 'expiry_sweep_1m',
      figure: `Expiry sweep: flag 10,000 expired cards among ${bigLabel}${quick ? ' (quick run: the full run uses 1,000,000)' : ''}, same path (Stripe double)`,
      value: sweepBigS,
      unit: 's',
      baseline: { name: '10,000 among 10,000', value: sweepSmallS },
      atMost: 1.2,
      target: `< ${S.sweepTargetS} s and ≤ 1.2 × the 10,000 time`,
      note: `${sweepDetail(sweeps.big)}; expiry index ${sweeps.big.indexSize.toLocaleString('en-US')}, sweep read ${(sweeps.big.sweep?.customers ?? 0).toLocaleString('en-US')} customers; Redis ${sweeps.big.redisUsedMemory}`,
    });
    sweepBigFigure.met = sweepBigFigure.met === true && sweepBigS < S.sweepTargetS;
    const figures: Figure[] = [
      absolute({ id: 'b1_rps', figure: 'B1 bare Express 5, constant JSON', value: b1.rps, unit: 'req/s' }),
      absolute({ id: 'b2_rps', figure: 'B2 bare Express 5 + ioredis HGETALL (10 fields)', value: b2.rps, unit: 'req/s' }),
      absolute({ id: 'b3_rps', figure: 'B3 raw node:http + HGETALL, auto-pipelining', value: b3.rps, unit: 'req/s' }),
      absolute({ id: 'b4_rps', figure: 'B4 naive webhook (express.raw + constructEvent + queue.add)', value: b4.rps, unit: 'req/s' }),
      compared({ id: 'entitlement_rps', figure: 'Entitlement route, full load', value: ent.rps, unit: 'req/s', baseline: { name: 'B2', value: b2.rps }, atLeast: 1.0, target: '≥ 1.0 × B2' }),
      compared({ id: 'entitlement_feature_rps', figure: 'Entitlement route with feature=, full load', value: entFeature.rps, unit: 'req/s', baseline: { name: 'B2', value: b2.rps }, atLeast: 1.0, target: '≥ 1.0 × B2' }),
      compared({ id: 'entitlement_rps_vs_b3', figure: 'Entitlement route vs the floor (moonshot)', value: ent.rps, unit: 'req/s', baseline: { name: 'B3', value: b3.rps }, atLeast: 0.6, target: '≥ 0.6 × B3' }),
      compared({ id: 'entitlement_p50', figure: 'Entitlement p50, full load', value: ent.p50, unit: 'ms', baseline: { name: 'B2', value: b2.p50 } }),
      compared({ id: 'entitlement_p99', figure: 'Entitlement p99, full load', value: ent.p99, unit: 'ms', baseline: { name: 'B2', value: b2.p99 } }),
      compared({ id: 'entitlement_p99_fixed', figure: `Entitlement p99 at ${S.fixedRate} req/s offered, API alone`, value: entFixed.p99, unit: 'ms', baseline: { name: `B2 at ${S.fixedRate}`, value: b2Fixed.p99 }, atMost: 1.0, target: '≤ 1.0 × B2' }),
      compared({
        id: 'all_in_one_p99_fixed',
        figure: `Entitlement p99 at ${S.fixedRate} req/s offered, all-in-one (\`npm start\`: workers draining a ${S.allInOneBacklog.toLocaleString('en-US')}-event backlog at STRIPE_API_RATE_LIMIT=${S.allInOneStripeRate}, the sweep queued)`,
        value: allInOne.ent.p99,
        unit: 'ms',
        baseline: { name: `B2 at ${S.fixedRate}, same turns`, value: allInOne.b2.p99 },
        atMost: 1.0,
        target: '≤ 1.0 × B2',
        note: `its event-loop delay over the turns (monitorEventLoopDelay, 5 ms resolution): p50 ${allInOne.loop.p50Ms.toFixed(1)} ms, p99 ${allInOne.loop.p99Ms.toFixed(1)} ms, max ${allInOne.loop.maxMs.toFixed(1)} ms; ${allInOne.left.toLocaleString('en-US')} event and refresh jobs still queued at the end`,
      }),
      compared({ id: 'webhook_rps', figure: 'Webhook ingest, distinct signed ~3 KB events', value: hook.rps, unit: 'req/s', baseline: { name: 'B4', value: b4.rps }, atLeast: 1.0, target: '≥ 1.0 × B4' }),
      compared({ id: 'webhook_p99', figure: 'Webhook ingest p99, full load', value: hook.p99, unit: 'ms', baseline: { name: 'B4', value: b4.p99 }, atMost: 1.2, target: '≤ 1.2 × B4' }),
      absolute({
        id: 'access_lane_s',
        figure: `Access lane: a customer.subscription.deleted queued behind ${S.accessLaneRoutine.toLocaleString('en-US')} routine events changes that reader's answer (STRIPE_API_RATE_LIMIT=20)${quick ? ' (quick run: the full run queues 10,000)' : ''}`,
        value: lane.changedAfterMs / 1000,
        unit: 's',
        max: S.accessLaneTargetS,
        target: `< ${S.accessLaneTargetS} s`,
        note: `from the workers' start; ${lane.refreshesBefore} routine refreshes ran before it`,
      }),
      ...budgets.map((b) =>
        absolute({
          id: `stripe_calls_per_1000_${b.pattern}`,
          figure: `Stripe requests per 1,000 events of the renewal mix (${b.pattern === 'burst' ? "a customer's seven events inside one debounce window" : 'each event after the previous one was worked: no coalescing'})`,
          value: b.perThousandEvents,
          unit: '',
          note: `${b.events} events, ${b.stripeRequests} requests: ${Object.entries(b.byRoute).map(([route, n]) => `${route} ${n}`).join(', ')}; before this tree's changes: ${b.pattern === 'burst' ? 286 : 857} (two reads per refresh, invoice.payment_succeeded refreshing too)`,
        }),
      ),
      absolute({
        id: 'worker_events_per_s',
        figure: `Worker: events applied/s from a ${S.backlog.toLocaleString('en-US')}-event backlog`,
        value: workers.eventsPerSecond,
        unit: 'events/s',
        note: `${workers.syncs} syncs, ${workers.stripeRequests} Stripe requests, drained in ${(workers.drainMs / 1000).toFixed(1)} s`,
      }),
      absolute({ id: 'coalescing_retrieves', figure: `Coalescing: Stripe refresh reads for a ${S.burst}-event burst`, value: workers.burstCustomerRetrieves, unit: '', max: 2, target: '≤ 2' }),
      absolute({
        id: 'redis_bytes_per_subscriber',
        figure: 'Redis bytes per subscriber (MEMORY USAGE: hash + user index + schedule)',
        value: memory.perSubscriber,
        unit: 'B',
        max: 1024,
        target: '≤ 1 KB',
        note: `hash ${memory.hash.toFixed(0)} B + user index ${memory.userIndex.toFixed(0)} B + idx:* keys ${memory.indexes.toFixed(0)} B; projection JSON ${memory.docBytes.toFixed(0)} B; sample ${memory.sample}`,
      }),
      absolute({ id: 'redis_used_memory_per_subscriber', figure: 'Redis used_memory growth per subscriber (INFO, incl. keyspace overhead)', value: usedPerSubscriber, unit: 'B' }),
      compared({
        id: 'api_peak_rss',
        figure: 'API peak RSS under full entitlement load',
        value: mb(rss.api),
        unit: 'MB',
        baseline: { name: 'B1', value: mb(rss.b1) },
        atMost: 1.2,
        target: '≤ 1.2 × B1',
        note: `RSS once started, before any load: API ${mb(idle.api).toFixed(0)} MB, B1 ${mb(idle.b1).toFixed(0)} MB`,
      }),
      compared({ id: 'api_peak_rss_webhooks', figure: 'API peak RSS after webhook load too (B4 carries the same Redis and BullMQ clients)', value: mb(rssAfterHooks.api), unit: 'MB', baseline: { name: 'B4', value: mb(rssAfterHooks.b4) }, atMost: 1.2, target: '≤ 1.2 × B4' }),
      {
        ...absolute({
          id: 'expiry_sweep_10k',
          figure: `Expiry sweep: flag 10,000 expired cards among 10,000, sweep job queued -> last card flagged (worker concurrency ${S.sweepConcurrency}; ${STRIPE_REREAD_LABEL.double})`,
          value: sweepSmallS,
          unit: 's',
          target: `< ${S.sweepTargetS} s`,
          note:
            (sweeps.small.length > 1 ? `mean of ${sweeps.small.map((f) => `${seconds(f.totalMs).toFixed(2)} s`).join(' and ')}, run before and after the ${bigLabel}; ` : '') +
            sweeps.small.map(sweepDetail).join(' / ') +
            (sweeps.stub ? `; with an in-process Stripe stub instead: ${seconds(sweeps.stub.totalMs).toFixed(2)} s` : ''),
        }),
        met: sweepSmallS < S.sweepTargetS,
      },
      sweepBigFigure,
      compared({
        id: 'client_cache_rps',
        figure: `Client cache: warm check() calls/s, one client, ${S.clientReaders} readers already cached (baseline: the entitlement route's req/s at full load, measured above in this run)`,
        value: cc.warmCallsPerSecond,
        unit: 'calls/s',
        baseline: { name: 'Entitlement route, full load', value: ent.rps },
        note: `one awaited call after another for ${S.clientWarmMs / 1000} s: ${cc.warmCalls.toLocaleString('en-US')} calls in ${(cc.warmMs / 1000).toFixed(2)} s, ${cc.warmRequests} HTTP calls made (all answers from the cache); the same checks with \`cache: false\` in the same step (every check one HTTP call to subgate in this process, ${cc.uncachedConcurrency} loops at once): ${cc.uncachedCallsPerSecond.toFixed(0)} calls/s (the cached client answers ${(cc.warmCallsPerSecond / cc.uncachedCallsPerSecond).toFixed(0)}× as many)`,
      }),
      absolute({
        id: 'client_cache_invalidation_p50',
        figure: `Client cache: invalidation lag p50 (card fixed via signed customer.updated webhook -> workers -> feed; from the feed's XADD to the client dropping its cached answer)`,
        value: lagP50,
        unit: 'ms',
        note: `${cc.lagsMs.length} trials`,
      }),
      absolute({
        id: 'client_cache_invalidation_p99',
        figure: `Client cache: invalidation lag p99 (card fixed via signed customer.updated webhook -> workers -> feed; from the feed's XADD to the client dropping its cached answer)`,
        value: lagP99,
        unit: 'ms',
        max: S.clientLagTargetMs,
        target: `≤ ${S.clientLagTargetMs} ms`,
        note: `${cc.lagsMs.length} trials, nearest rank${Math.ceil(0.99 * cc.lagsMs.length) === cc.lagsMs.length ? ' (= the slowest trial)' : ''}; max ${msText(cc.lagsMs.length ? Math.max(...cc.lagsMs) : null)}; XADD -> seen on pub/sub by a bench subscriber p50 ${msText(percentile(cc.pubsubSeenMs, 50))}, then -> dropped p50 ${msText(percentile(cc.pubsubToDropMs, 50))} p99 ${msText(percentile(cc.pubsubToDropMs, 99))}`,
      }),
    ];

    notes.push(
      `Load: autocannon in the orchestrator process, ${S.connections} connections, pipelining 1, each request picking one of ${S.customers.toLocaleString('en-US')} customers at random (the baselines get the same requests and ignore the query).`,
      `Interleaving: all servers run at once (idle unless loaded); compared servers take turns of ${S.segmentS} s, ${S.segments} turns each after a ${S.warmupS} s warm-up, rotating the order, so drift on a shared machine hits them alike. req/s = requests / time over all turns; p50/p99 = the median of the turns' figures.`,
      'Servers: compiled with tsc into bench/tmp/build and run with plain `node`, each in its own child process, NODE_ENV=production; peak RSS is the child\'s own process.resourceUsage().maxRSS, read after the GET turns (and again after the webhook turns).',
      `Redis: a throwaway redis-server ${await redisVersion(redis)} on a free 127.0.0.1 port, shared by every figure; B2 uses default ioredis options, B3 and subgate's API connection use enableAutoPipelining.`,
      `Webhooks: each run posts distinct customer.subscription.updated events of ~${(Buffer.byteLength(signedEventPool(1, ids, WEBHOOK_SECRET, 'size')[0]!.payload) / 1024).toFixed(1)} KB, signed with the SDK's generateTestHeaderString just before the run.`,
      `Expiry sweep: ${SWEEP_EXPIRED.toLocaleString('en-US')} projections with a card that expired two weeks before the run's clock, spread evenly among 10,000 and among ${bigLabel} (the rest expire 2 to 5 years out), written through the store's write script, on a throwaway Redis of its own. In a compiled child process (bench/servers/subgate-sweep.ts) the real card-expiry processor runs as a BullMQ worker at concurrency ${S.sweepConcurrency} (production: WORKER_CONCURRENCY, default 8) on one worker connection as workers/main.ts wires it; an expiry-sweep job is queued and the clock stops when the ${SWEEP_EXPIRED.toLocaleString('en-US')}th expiry check answers 'flagged' (each: read the projection, re-read the card from the Stripe double in the orchestrator through createStripeBilling and the SDK, raise the flag, publish the entitlement change, queue the card_expired notice). The sweep and the checks overlap, as in production. Stripe's own latency and rate limit are not in the figure.`,
      `Workers: the real createWorkerSet (concurrency ${S.workerConcurrency}, debounce ${S.debounceMs} ms, Stripe budget 10,000 req/s) in a child process; the Stripe double in the orchestrator; backlog enqueued first in ${(workers.enqueueMs / 1000).toFixed(1)} s via Queue.add with STRIPE_EVENT_JOB_OPTIONS; events spread evenly over all customers; worker peak RSS ${mb(workers.workerPeakRss).toFixed(0)} MB.`,
    );
    notes.push(
      `Client cache: the content-gate stack (examples/content-service/stack.ts: subgate's real app on a 127.0.0.1 port, its real workers, the Stripe double and one createEntitlementClient with a 10-minute TTL and its live subscription to GET /v1/entitlements/events) runs in the orchestrator process, as \`npm run demo\` and \`npm run bench:gate\` do, on the bench's Redis under its own prefix, after every other figure. Warm: ${S.clientReaders} active subscribers synced from the double and each checked once (network), then \`await client.checkUser()\` round-robin over them for ${S.clientWarmMs / 1000} s after a short warm-up; every answer came from the cache and the client's request counter did not move. Invalidation: ${S.clientTrials} subscribers each subscribed by a signed customer.subscription.created webhook; their card expired (the delayed card-expiry job fired at the expiry instant, then a signed charge.failed expired_card webhook), so the client held a card_expired answer (checked twice: network, then cache); one trial at a time, the reader saved a new card in the double and subgate got a signed customer.updated webhook through the real webhook route; the workers re-read Stripe and the entitlement feed published card_expired -> active (one Lua script: XADD + PUBLISH). The lag is measured from that publication, not from the webhook POST: start = the stream entry id's time (Redis's clock at XADD, ms), end = Date.now() in the client's onChange hook, which the client calls right after dropping the answers the change touched (same host clock; ±1 ms resolution). Each trial then checked that the next check() made an HTTP call and answered entitled (${cc.badFollowUps} did not). Idle stack, one process: no other load during the trials. Set-up took ${(cc.setupMs / 1000).toFixed(1)} s.`,
    );
    notes.push(
      `All-in-one: bench/servers/subgate-all-in-one.ts (openApiSide + openWorkerSide in one process, as \`npm start\`), STRIPE_API_RATE_LIMIT=${S.allInOneStripeRate} (the default), a ${S.allInOneBacklog.toLocaleString('en-US')}-event backlog (customer.subscription.updated over all customers, the Stripe double holding them) and an expiry-sweep job queued before it starts; B2 takes the same turns at the same offered rate in its own process.`,
      `Access lane and Stripe budget: in this process on the test harness (real composition and workers, the Stripe double, this run's Redis under prefixes of their own). The lane: ${S.accessLaneRoutine.toLocaleString('en-US')} customer.subscription.created events of other readers accepted first, then a customer.subscription.deleted; the workers start afterwards at STRIPE_API_RATE_LIMIT=20. The budget: the seven renewal events of ${S.renewalCustomers} customers, debounce ${S.debounceMs} ms; requests counted at the double.`,
    );
    const missed = figures.filter((f) => f.met === false).map((f) => f.id);
    if (missed.length > 0) notes.push(`Not met: ${missed.join(', ')}. bench/README.md ("Where the misses come from") has the profiles that explain them and what would close them.`);
    if (profile) notes.push('This run was profiled (--profile): CPU profiles of the API and worker processes are in bench/tmp/profiles, and profiling slows them.');
    if (problems.length > 0) notes.push(...problems.map((p) => `ERROR: ${p}`));

    const meta = machineMeta(quick ? 'quick' : 'full', await redisVersion(redis), {
      connections: S.connections,
      warmupS: S.warmupS,
      segments: S.segments,
      segmentS: S.segmentS,
      fixedRate: S.fixedRate,
      customers: S.customers,
      backlog: S.backlog,
      sweepBig: S.sweepBig,
      clientTrials: S.clientTrials,
    });
    mkdirSync(OUT_DIR, { recursive: true });
    const suffix = quick ? '.quick' : '';
    writeResults(join(OUT_DIR, `RESULTS${suffix}.md`), join(OUT_DIR, `results${suffix}.json`), meta, figures, runs, notes);
    log(`wrote ${join(OUT_DIR, `RESULTS${suffix}.md`)} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    redis.disconnect();
    await redisServer.stop();
  }
}

main().then(
  () => {
    if (problems.length > 0) {
      for (const p of problems) log(`ERROR: ${p}`);
      process.exit(1);
    }
    process.exit(0);
  },
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
