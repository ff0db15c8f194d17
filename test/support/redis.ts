// Redis helpers for tests.
//
// Tests share one Redis (TEST_REDIS_URL, provided by `npm test` / test/run.ts),
// so every test must namespace its keys with uniquePrefix() and clean up with
// cleanupPrefix(). Never FLUSHDB/FLUSHALL: the URL may point at a Redis that
// holds other people's data.
//
// Tests that need a Redis they can kill (e.g. "Redis down -> 503") use
// startDisposableRedis(), which runs an extra redis-server on a free port.
// The binary is taken from $REDIS_SERVER_BIN, else `redis-server` on PATH.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { mastersOf } from '../../src/store/redis-connections.js';

export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) {
    throw new Error(
      'TEST_REDIS_URL is not set. Run the tests with `npm test` (it starts a throwaway redis-server ' +
        'when one is installed), or export TEST_REDIS_URL=redis://127.0.0.1:6379 ' +
        '(tests only touch keys under their own unique prefix).',
    );
  }
  return url;
}

/**
 * The Redis Cluster the suite runs against (`npm run test:cluster` sets TEST_REDIS_CLUSTER_NODES to its
 * seed nodes, `host:port,…`), or null for the single Redis of TEST_REDIS_URL.
 */
export function testClusterNodes(): string | null {
  const nodes = process.env.TEST_REDIS_CLUSTER_NODES?.trim();
  return nodes ? nodes : null;
}

/** `t-<label>-<random>`; contains no ':' so it is safe as a BullMQ prefix / key segment. */
export function uniquePrefix(label: string): string {
  const safe = label.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40) || 'x';
  return `t-${safe}-${randomBytes(6).toString('hex')}`;
}

/**
 * ioredis client for tests (default: TEST_REDIS_URL, maxRetriesPerRequest: null as BullMQ wants).
 * A no-op 'error' listener is attached so connection errors while a disposable Redis is down
 * don't spam stderr; command failures still reject as usual.
 */
export function createTestRedis(opts: RedisOptions & { url?: string } = {}): Redis {
  const { url, ...options } = opts;
  const nodes = testClusterNodes();
  if (url === undefined && nodes) {
    // On the cluster: a cluster client (typed as Redis, as src/store/redis-connections.ts hands them out).
    const cluster = new Cluster(
      nodes.split(',').map((node) => ({ host: node.split(':')[0]!, port: Number(node.split(':')[1]) })),
      { redisOptions: { maxRetriesPerRequest: null, ...options } },
    );
    cluster.on('error', () => {});
    return cluster as unknown as Redis;
  }
  const client = new Redis(url ?? testRedisUrl(), { maxRetriesPerRequest: null, ...options });
  client.on('error', () => {});
  return client;
}

/** Deletes keys matching `${prefix}:*` (SCAN + UNLINK) and nothing else. Returns how many. */
export async function cleanupPrefix(redis: Redis, prefix: string): Promise<number> {
  if (!prefix) throw new Error('cleanupPrefix: empty prefix');
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
  let deleted = 0;
  // SCAN visits one node: on a cluster, every master; keys are unlinked one by one (they span slots).
  for (const node of mastersOf(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      const unlinked = await Promise.all(keys.map((key) => node.unlink(key)));
      deleted += unlinked.reduce((sum, n) => sum + n, 0);
    } while (cursor !== '0');
  }
  return deleted;
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned) or the deadline passes.
 * A throwing predicate counts as 'not yet'; its last error is included in the timeout error.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 25, message = 'condition' }: WaitForOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`waitFor timed out after ${timeoutMs}ms: ${message}${detail}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------
// redis-server processes

/** Path of the redis-server binary: $REDIS_SERVER_BIN, else the first `redis-server` on PATH. */
export function redisServerBinary(): string | undefined {
  const candidates = process.env.REDIS_SERVER_BIN
    ? [process.env.REDIS_SERVER_BIN]
    : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'redis-server'));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function hasRedisServerBinary(): boolean {
  return redisServerBinary() !== undefined;
}

export interface DisposableRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, waits for exit) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * (Re)starts the server on the same port, stopping it first if running. With `keepData` the same
   * data dir is used, so an append-only file written before a crash is replayed.
   */
  restart(opts?: { keepData?: boolean }): Promise<void>;
  /** SIGSTOP: the server stops answering while its connections stay open (a hung host, not a dead one). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** kill -9: the server dies at once, its data dir stays (for restart({ keepData: true })). */
  crash(): Promise<void>;
}

export interface DisposableRedisOptions {
  /**
   * `appendonly yes` as docker-compose runs it (fsync every second): Redis writes the file before it
   * replies, so a kill -9 of the server (not of the machine) loses no acknowledged write.
   */
  appendOnly?: boolean;
}

// Servers still running when this process exits (or is told to by SIGINT/SIGTERM/SIGHUP) get
// SIGTERM and their dirs removed. After a signal, the default behaviour (dying) is restored
// unless someone else handles that signal.
const running = new Map<ChildProcess, string>();
function killRunning(): void {
  for (const [child, dir] of running) {
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
}
process.on('exit', killRunning);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killRunning();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** Starts a throwaway redis-server (no persistence, noeviction) on 127.0.0.1 and a free port. */
export async function startDisposableRedis(options: DisposableRedisOptions = {}): Promise<DisposableRedis> {
  const bin = redisServerBinary();
  if (!bin) {
    throw new Error(
      'redis-server binary not found (set REDIS_SERVER_BIN or put redis-server on PATH); ' +
        'guard with hasRedisServerBinary() / { skip: !hasRedisServerBinary() }',
    );
  }
  let child: ChildProcess | undefined;
  let dir = '';
  let port = 0;

  const stop = async (): Promise<void> => {
    const current = child;
    child = undefined;
    if (current) {
      current.kill('SIGCONT'); // a paused server would not act on SIGTERM
      await terminate(current);
      running.delete(current);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  };

  const start = async (keepData = false): Promise<void> => {
    if (!keepData || !dir) dir = mkdtempSync(join(tmpdir(), 'subgate-redis-'));
    child = spawnRedis(bin, port, dir, options);
    running.set(child, dir);
    try {
      await waitForPing(child, port, dir);
    } catch (err) {
      await stop();
      throw err;
    }
  };

  // The free port could be taken between probing and binding; retry with a new one.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: async ({ keepData = false } = {}) => {
      if (keepData) {
        const current = child;
        child = undefined;
        if (current) {
          current.kill('SIGCONT');
          await terminate(current);
        }
        await start(true);
        return;
      }
      await stop();
      await start();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    crash: async () => {
      const current = child;
      child = undefined;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
      current.kill('SIGKILL');
      await exited;
      // Still in `running`, so the dir is removed on the way out even if the test never restarts it.
    },
  };
}

function spawnRedis(bin: string, port: number, dir: string, options: DisposableRedisOptions): ChildProcess {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendOnly ? 'yes' : 'no',
    '--maxmemory-policy', 'noeviction',
    // As docker-compose runs it: a projection (~0.5 KB) stays in a compact listpack hash.
    '--hash-max-listpack-value', '1024',
    '--daemonize', 'no',
    '--logfile', join(dir, 'redis.log'),
  ];
  const child = spawn(bin, args, { stdio: 'ignore' });
  child.on('error', () => {}); // reported by waitForPing
  child.unref(); // a forgotten server must not keep the test process alive; the exit hook kills it
  return child;
}

async function waitForPing(child: ChildProcess, port: number, dir: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const failure = (why: string): Error => {
    let log = '';
    try {
      log = readFileSync(join(dir, 'redis.log'), 'utf8').trim().split('\n').slice(-5).join('\n');
    } catch {}
    return new Error(`redis-server on port ${port} ${why}${spawnError ? `: ${spawnError.message}` : ''}${log ? `\n${log}` : ''}`);
  };
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) throw failure('failed to start');
    const client = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: 1000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    if (Date.now() >= deadline) throw failure(`did not answer PING within ${timeoutMs}ms`);
    await sleep(50);
  }
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killTimer);
}
