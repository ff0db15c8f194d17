// Runner behind `npm run test:cluster`: subgate on a real Redis Cluster and across real failovers, NOT
// part of `npm test`.
//
//   tsx test/cluster/run.ts                  the end-to-end suites against a 3-master cluster, then
//                                            test/cluster/*.test.ts (Sentinel failover, many processes)
//   tsx test/cluster/run.ts path/x.test.ts   only the given files (still with the cluster up)
//
// It starts, from the redis-server and redis-cli binaries, a 3-master cluster on free loopback ports in
// temp dirs (TEST_REDIS_CLUSTER_NODES for the harness, which then builds every connection as a cluster
// client) and a single throwaway Redis (TEST_REDIS_URL, for what needs one). The failover tests start
// their own primary + replica + 3 sentinels. The tests run in a process group of their own, killed at the
// end on every way out; the servers are killed and their dirs removed whatever happens.

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisServerBinary, startDisposableRedis, type DisposableRedis } from '../support/redis.js';
import { startDisposableCluster, type DisposableCluster } from '../support/redis-topologies.js';
import { killGroup } from '../support/process-group.js';

/** The end-to-end suites run against the cluster (as `npm test` runs them against one Redis). */
export const CLUSTER_SUITES = [
  'test/integration/key-slots.test.ts',
  'test/integration/event-to-entitlement.test.ts',
  'test/integration/event-processing.test.ts',
  'test/integration/entitlements-route.test.ts',
  'test/integration/card-expiry-journey.test.ts',
  'test/integration/card-expiry-sweep.test.ts',
  'test/integration/notices.test.ts',
  'test/integration/entitlement-feed.test.ts',
  'test/integration/entitlement-feed-steps.test.ts',
  'test/integration/entitlement-events-replay.test.ts',
  'test/integration/resync.test.ts',
  'test/integration/skewed-clock.test.ts',
];

const root = fileURLToPath(new URL('../..', import.meta.url));
const startedAt = Date.now();
let cluster: DisposableCluster | undefined;
let single: DisposableRedis | undefined;
let child: ChildProcess | undefined;
let interrupted: number | undefined;
let finishing = false;

async function finish(code: number): Promise<never> {
  finishing = true;
  const pgid = child?.pid;
  const left = pgid ? killGroup(pgid) : [];
  await Promise.allSettled([cluster?.stop(), single?.stop()]);
  console.log(`# cluster suite took ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  if (left.length > 0) {
    console.error(`# processes left behind by the tests, killed now: ${left.join(', ')}`);
    if (code === 0) code = 1;
  }
  process.exit(interrupted ?? code);
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.on(signal, () => {
    interrupted ??= code;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    else if (!finishing) void finish(code);
  });
}

async function main(): Promise<void> {
  if (!redisServerBinary()) throw new Error('The cluster suite needs the redis-server and redis-cli binaries (PATH or REDIS_SERVER_BIN).');
  const args = process.argv.slice(2);
  const own = readdirSync(join(root, 'test', 'cluster'))
    .filter((name) => name.endsWith('.test.ts'))
    .sort()
    .map((name) => join('test', 'cluster', name));
  const files = (args.length > 0 ? args : [...CLUSTER_SUITES, ...own]).map((file) => resolve(root, file));

  cluster = await startDisposableCluster(3);
  single = await startDisposableRedis();
  console.error(`# redis cluster: ${cluster.seeds}; single redis: ${single.url}`);

  const nodeArgs = ['--import', 'tsx', '--test', '--test-concurrency=1'];
  if (!process.stdout.isTTY) nodeArgs.push('--test-reporter=tap');
  child = spawn(process.execPath, [...nodeArgs, ...files], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TEST_REDIS_CLUSTER_NODES: cluster.seeds, TEST_REDIS_URL: single.url, REDIS_SERVER_BIN: redisServerBinary()! },
    detached: true,
  });
  child.on('error', (err) => {
    console.error(`test/cluster/run.ts: could not start node: ${err.message}`);
    void finish(1);
  });
  child.on('exit', (code) => void finish(code ?? 1));
}

main().catch((err: unknown) => {
  console.error(`test/cluster/run.ts: ${err instanceof Error ? err.message : String(err)}`);
  void finish(1);
});
