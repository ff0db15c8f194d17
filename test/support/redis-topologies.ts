/**
 * Throwaway Redis topologies started from the redis-server and redis-cli binaries, on free loopback ports,
 * each in a temp dir: a Redis Cluster of N masters (`--cluster-enabled yes`, `redis-cli --cluster create`),
 * and a primary with a replica watched by three sentinels (`redis-server --sentinel`). Every process is
 * killed and every dir removed by stop(), and on every way out of the process (exit, SIGINT, SIGTERM, SIGHUP).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort, redisServerBinary, waitFor } from './redis.js';

const run = promisify(execFile);

const started = new Map<ChildProcess, string>();
function killAll(): void {
  for (const [child, dir] of started) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  started.clear();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

export interface RedisProcess {
  port: number;
  dir: string;
  readonly running: boolean;
  /** kill -9 (the host is gone, not shut down). */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

function binary(): string {
  const bin = redisServerBinary();
  if (!bin) throw new Error('redis-server binary not found (PATH or REDIS_SERVER_BIN)');
  return bin;
}

function cliBinary(): string {
  return process.env.REDIS_CLI_BIN ?? 'redis-cli';
}

async function ping(port: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    async () => {
      const client = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 500 });
      client.on('error', () => {});
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } finally {
        client.disconnect();
      }
    },
    { timeoutMs, intervalMs: 50, message: `redis on ${port} answering PING` },
  );
}

/** Starts one redis-server (or sentinel, with `sentinel`) with `args` on a free port, in its own dir. */
async function startProcess(args: (port: number, dir: string) => string[], opts: { sentinel?: string } = {}): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'subgate-topology-'));
  const port = await freePort();
  const argv = opts.sentinel !== undefined ? [join(dir, 'sentinel.conf'), '--sentinel', ...args(port, dir)] : args(port, dir);
  if (opts.sentinel !== undefined) writeFileSync(join(dir, 'sentinel.conf'), opts.sentinel);
  const child = spawn(binary(), argv, { stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
  started.set(child, dir);
  let running = true;
  const exited = new Promise<void>((resolve) => child.once('exit', () => ((running = false), resolve())));
  try {
    await ping(port);
  } catch (err) {
    let log = '';
    try {
      log = readFileSync(join(dir, 'redis.log'), 'utf8').split('\n').slice(-5).join('\n');
    } catch {}
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return {
    port,
    dir,
    get running() {
      return running;
    },
    async crash() {
      if (running) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (running) child.kill('SIGKILL');
      await exited;
      started.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const common = (port: number, dir: string) => [
  '--port', String(port),
  '--bind', '127.0.0.1',
  '--dir', dir,
  '--save', '',
  '--maxmemory-policy', 'noeviction',
  '--hash-max-listpack-value', '1024',
  '--daemonize', 'no',
  '--logfile', join(dir, 'redis.log'),
];

export interface DisposableCluster {
  nodes: RedisProcess[];
  /** `127.0.0.1:port,…`: what REDIS_CLUSTER_NODES takes. */
  seeds: string;
  stop(): Promise<void>;
}

/** A Redis Cluster of `masters` masters and no replicas, every slot assigned, state ok on every node. */
export async function startDisposableCluster(masters = 3): Promise<DisposableCluster> {
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startProcess((port, dir) => [
          ...common(port, dir),
          '--appendonly', 'no',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, 'nodes.conf'),
          '--cluster-node-timeout', '2000',
        ]),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run(cliBinary(), ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 60_000 });
    for (const node of nodes) {
      await waitFor(
        async () => {
          const { stdout } = await run(cliBinary(), ['-p', String(node.port), 'cluster', 'info']);
          return /cluster_state:ok/.test(stdout) && /cluster_known_nodes:(\d+)/.exec(stdout)?.[1] === String(masters);
        },
        { timeoutMs: 30_000, intervalMs: 100, message: `cluster state ok on ${node.port}` },
      );
    }
    return { nodes, seeds: addresses.join(','), stop: async () => void (await Promise.allSettled(nodes.map((n) => n.stop()))) };
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    throw err;
  }
}

export interface SentinelGroup {
  /** The primary at start; after a failover one of the replicas is primary. */
  primary: RedisProcess;
  replicas: RedisProcess[];
  sentinels: RedisProcess[];
  name: string;
  /** `127.0.0.1:port,…`: what REDIS_SENTINELS takes. */
  sentinelAddresses: string;
  /** The port the sentinels name as primary now. */
  currentPrimaryPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A primary (append-only, fsync every second, as docker-compose runs it) with `replicaCount` replicas, and
 * three sentinels that agree (quorum 2) it is down after 1 s and fail over fast. Two replicas by default:
 * after the primary is lost one is promoted and the other follows it, so "n replicas hold it" can still be
 * asked for.
 */
export async function startSentinelGroup(name = 'subgate-primary', replicaCount = 2): Promise<SentinelGroup> {
  const all: RedisProcess[] = [];
  try {
    const primary = await startProcess((port, dir) => [...common(port, dir), '--appendonly', 'yes']);
    all.push(primary);
    const replicas: RedisProcess[] = [];
    for (let i = 0; i < replicaCount; i++) {
      const replica = await startProcess((port, dir) => [...common(port, dir), '--appendonly', 'yes', '--replicaof', '127.0.0.1', String(primary.port)]);
      replicas.push(replica);
      all.push(replica);
      const replicaClient = new Redis(replica.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      replicaClient.on('error', () => {});
      try {
        await waitFor(async () => /master_link_status:up/.test(await replicaClient.info('replication')), { timeoutMs: 20_000, message: 'replica in sync' });
      } finally {
        replicaClient.disconnect();
      }
    }
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const conf = [
        `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n');
      const sentinel = await startProcess((port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--logfile', join(dir, 'redis.log')], { sentinel: conf });
      sentinels.push(sentinel);
      all.push(sentinel);
    }
    const currentPrimaryPort = async () => {
      const { stdout } = await run(cliBinary(), ['-p', String(sentinels[0]!.port), 'sentinel', 'get-master-addr-by-name', name]);
      return Number(stdout.trim().split('\n')[1]);
    };
    // The sentinels know each other and the replica before anything may fail.
    await waitFor(
      async () => {
        const { stdout } = await run(cliBinary(), ['-p', String(sentinels[0]!.port), 'sentinel', 'master', name]);
        const fields = stdout.trim().split('\n');
        const value = (key: string) => fields[fields.indexOf(key) + 1];
        return value('num-other-sentinels') === '2' && value('num-slaves') === String(replicaCount);
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'sentinels see each other and the replica' },
    );
    await sleep(100);
    return {
      primary,
      replicas,
      sentinels,
      name,
      sentinelAddresses: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      currentPrimaryPort,
      stop: async () => void (await Promise.allSettled(all.map((p) => p.stop()))),
    };
  } catch (err) {
    await Promise.allSettled(all.map((p) => p.stop()));
    throw err;
  }
}
