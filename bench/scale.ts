/**
 * `npm run bench:scale`: what each added process buys, on one Redis and on a 3-master Redis Cluster.
 * Real entry points (src/main.ts, workers/main.ts) configured by their environment, the Stripe double in
 * this process. Per topology:
 * - events applied/s with 1, 2 and 4 worker processes: a backlog of customer.updated events (one per
 *   customer) accepted through the API while the event queue is paused, then resumed; the time until the
 *   event and refresh queues are empty. Each event is a job, a debounced refresh, two Stripe reads, a
 *   guarded write and its after-write hook;
 * - entitlement checks/s with 1 and 2 API processes (autocannon, 10 connections per API, by customer id);
 * - CPU (user + system, from /proc) of the subgate processes per event or per check, and of Redis;
 * - Redis bytes per subscriber: MEMORY USAGE of every subscriber-family key, over the subscribers.
 * On a 2-core machine every process shares the cores with the others and with this one: the CPU per
 * event or check is the figure that carries over to a bigger machine, the rates are this machine's.
 *
 *   npx tsx bench/scale.ts [--customers 1500] [--seconds 8]   prints a Markdown table, writes bench/tmp/scale.json
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { Redis } from 'ioredis';
import { FAULT_API_TOKEN, customerUpdated, putSubscribers, settleQueues, startFaultStack, waitUntilCurrent, type FaultStack } from '../test/support/fault-stack.js';
import { startDisposableCluster } from '../test/support/redis-topologies.js';
import type { SubgateProcess } from '../test/support/processes.js';
import type { Subscriber } from '../test/support/card-scenarios.js';
import { mastersOf } from '../src/store/redis-connections.js';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const CUSTOMERS = arg('customers', 1500);
const SECONDS = arg('seconds', 8);
const TICK_MS = 10; // /proc/<pid>/stat counts CPU in clock ticks of 10 ms (USER_HZ 100)

function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}
const cpuOf = (procs: readonly SubgateProcess[]) => procs.reduce((sum, p) => sum + cpuMs(p.pid), 0);

/** Redis's own CPU (user + sys, INFO cpu, ms) and commands processed (INFO stats), summed over every master. */
async function redisUsage(client: Redis): Promise<{ cpuMs: number; commands: number }> {
  let cpuMs = 0;
  let commands = 0;
  for (const node of mastersOf(client)) {
    const info = await node.info();
    const value = (key: string) => Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    cpuMs += (value('used_cpu_user') + value('used_cpu_sys')) * 1000;
    commands += value('total_commands_processed');
  }
  return { cpuMs, commands };
}

async function subscriberBytes(client: Redis, prefix: string): Promise<{ bytes: number; keys: number }> {
  let bytes = 0;
  let keys = 0;
  for (const node of mastersOf(client)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}:{s*}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of found) {
        bytes += Number((await node.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
        keys++;
      }
    } while (cursor !== '0');
  }
  return { bytes, keys };
}

interface EventsFigure {
  workers: number;
  events: number;
  seconds: number;
  perSecond: number;
  workerCpuMsPerEvent: number;
  redisCpuMsPerEvent: number;
  redisCommandsPerEvent: number;
}

async function eventsRun(s: FaultStack, api: SubgateProcess, customers: readonly Subscriber[], workerCount: number): Promise<EventsFigure> {
  await s.queues.stripeEvents.pause();
  const events = customers.map((c) => customerUpdated(s, c.customerId));
  const flood = s.flood(events, { targets: () => [api.url], concurrency: 16, keepAlive: true });
  await flood.done;
  await flood.stop();
  const workers = await Promise.all(Array.from({ length: workerCount }, (_, i) => s.start('worker', `worker-${workerCount}-${i + 1}`)));
  try {
    const cpu0 = cpuOf(workers);
    const redis0 = await redisUsage(s.client);
    const started = performance.now();
    await s.queues.stripeEvents.resume();
    await settleQueues(s, 300_000);
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuOf(workers) - cpu0;
    const redis1 = await redisUsage(s.client);
    return {
      workers: workerCount,
      events: events.length,
      seconds,
      perSecond: events.length / seconds,
      workerCpuMsPerEvent: cpu / events.length,
      redisCpuMsPerEvent: (redis1.cpuMs - redis0.cpuMs) / events.length,
      redisCommandsPerEvent: (redis1.commands - redis0.commands) / events.length,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop(5000)));
  }
}

interface ChecksFigure {
  apis: number;
  perSecond: number;
  p99Ms: number;
  non2xx: number;
  apiCpuMsPerCheck: number;
  redisCpuMsPerCheck: number;
  redisCommandsPerCheck: number;
}

async function checksRun(s: FaultStack, apis: readonly SubgateProcess[], customers: readonly Subscriber[]): Promise<ChecksFigure> {
  const cpu0 = cpuOf(apis);
  const redis0 = await redisUsage(s.client);
  const results = await Promise.all(
    apis.map((api, n) => {
      let i = n;
      return autocannon({
        url: api.url,
        connections: 10,
        pipelining: 1,
        duration: SECONDS,
        headers: { authorization: `Bearer ${FAULT_API_TOKEN}` },
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/v1/entitlements?customer=${customers[i++ % customers.length]!.customerId}` }) }],
      });
    }),
  );
  const cpu = cpuOf(apis) - cpu0;
  const redis1 = await redisUsage(s.client);
  const requests = results.reduce((n, r) => n + r.requests.total, 0);
  return {
    apis: apis.length,
    perSecond: results.reduce((n, r) => n + r.requests.average, 0),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    non2xx: results.reduce((n, r) => n + r.non2xx + r.errors, 0),
    apiCpuMsPerCheck: cpu / requests,
    redisCpuMsPerCheck: (redis1.cpuMs - redis0.cpuMs) / requests,
    redisCommandsPerCheck: (redis1.commands - redis0.commands) / requests,
  };
}

async function measure(topology: 'single' | 'cluster') {
  const s = await startFaultStack({ label: `scale-${topology}`, topology, env: { SYNC_DEBOUNCE_MS: '0', STRIPE_API_RATE_LIMIT: '10000' } });
  try {
    const api = await s.start('api', 'api-1');
    const customers = putSubscribers(s, CUSTOMERS);
    const events: EventsFigure[] = [];
    for (const workers of [1, 2, 4]) {
      events.push(await eventsRun(s, api, customers, workers));
      console.error(`# ${topology}: ${workers} worker(s): ${events.at(-1)!.perSecond.toFixed(0)} events/s`);
    }
    await waitUntilCurrent(s, customers, performance.now());
    const memory = await subscriberBytes(s.client, s.prefix);
    const checks: ChecksFigure[] = [await checksRun(s, [api], customers)];
    const api2 = await s.start('api', 'api-2');
    checks.push(await checksRun(s, [api, api2], customers));
    for (const c of checks) console.error(`# ${topology}: ${c.apis} API(s): ${c.perSecond.toFixed(0)} checks/s`);
    return { topology, customers: CUSTOMERS, events, checks, bytesPerSubscriber: memory.bytes / CUSTOMERS, keysPerSubscriber: memory.keys / CUSTOMERS };
  } finally {
    await s.close();
  }
}

function table(runs: Awaited<ReturnType<typeof measure>>[]): string {
  const rows = ['| topology | processes | rate | subgate CPU per op | Redis CPU per op | Redis commands per op |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of runs) {
    const name = r.topology === 'single' ? 'single Redis' : '3-master cluster';
    for (const e of r.events) rows.push(`| ${name} | ${e.workers} worker(s) | ${e.perSecond.toFixed(0)} events applied/s | ${e.workerCpuMsPerEvent.toFixed(2)} ms/event | ${e.redisCpuMsPerEvent.toFixed(2)} ms/event | ${e.redisCommandsPerEvent.toFixed(1)} |`);
    for (const c of r.checks) rows.push(`| ${name} | ${c.apis} API(s) | ${c.perSecond.toFixed(0)} checks/s (p99 ${c.p99Ms} ms, non-2xx ${c.non2xx}) | ${c.apiCpuMsPerCheck.toFixed(3)} ms/check | ${c.redisCpuMsPerCheck.toFixed(3)} ms/check | ${c.redisCommandsPerCheck.toFixed(2)} |`);
  }
  rows.push('');
  rows.push('| topology | Redis bytes per subscriber (subscriber keys) | keys per subscriber |', '| --- | --- | --- |');
  for (const r of runs) rows.push(`| ${r.topology === 'single' ? 'single Redis' : '3-master cluster'} | ${r.bytesPerSubscriber.toFixed(0)} | ${r.keysPerSubscriber.toFixed(2)} |`);
  return rows.join('\n');
}

async function main(): Promise<void> {
  const runs = [await measure('single')];
  const cluster = await startDisposableCluster(3);
  try {
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.seeds;
    runs.push(await measure('cluster'));
  } finally {
    await cluster.stop();
  }
  const out = join(process.cwd(), 'bench', 'tmp');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'scale.json'), JSON.stringify({ at: new Date().toISOString(), customers: CUSTOMERS, checkSeconds: SECONDS, runs }, null, 2));
  console.log(table(runs));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
