/**
 * Every Redis connection of every process is made here, per BullMQ's production guide, for the three
 * shapes a Redis comes in: one server (REDIS_URL), a primary with replicas behind Sentinel
 * (REDIS_SENTINELS), and a Redis Cluster (REDIS_CLUSTER_NODES). The HTTP side's connection fails fast
 * (no offline queue, short timeouts) so a Redis outage becomes a quick 503 that Stripe retries; workers
 * block on Redis and wait for it to come back (maxRetriesPerRequest: null).
 *
 * Failover. A primary that was demoted (a managed Redis whose DNS name moved to the promoted node, or a
 * Sentinel failover) answers writes with READONLY, and a restarted one answers LOADING while it reads its
 * file. Either makes the connection reconnect (reconnectOnError): through Sentinel that asks for the new
 * primary; by DNS it resolves the name again. The command is refused (the API answers 503 and Stripe
 * retries; BullMQ retries its own). Reconnects after such a reply
 * back off (to 5 s) however often the server says it: a connection that reconnects, is ready, and hears
 * READONLY again must not spin, nor fill the logs.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTopology } from '../config.js';

/**
 * A connection to whatever shape of Redis the configuration names. A Cluster is handed out typed as
 * `Redis`, so every store keeps one signature: the stores send only commands addressed by key (a cluster
 * routes them by slot, key-layout.ts keeps each script's keys in one slot), and nothing outside this module
 * touches what only a standalone client has (options, select, its one host). isCluster() and mastersOf()
 * tell the two apart where it matters (SCAN, INFO).
 */
export type RedisClient = Redis;

export type ConnectionRole = 'fail-fast' | 'worker';

const MAX_BACKOFF_MS = 5000;

/** Replies that say "this node cannot take writes now; another one (or this one, shortly) can". */
const FAILOVER_REPLY = /^(READONLY|LOADING|MASTERDOWN)\b/;

export function isFailoverReply(err: Error): boolean {
  return FAILOVER_REPLY.test(err.message);
}

/** Connection-loss reconnects: quick at first, then every 2 s, with jitter so many processes do not reconnect in step. */
function connectionBackoff(attempt: number): number {
  return Math.min(attempt * 100, 2000) + Math.floor(Math.random() * 100);
}

/**
 * The reconnect policy of one connection: how soon to reconnect after a loss, and whether a reply means
 * "reconnect". Failover replies in a row double the wait (200 ms .. 5 s); a quiet spell of 30 s forgets them.
 */
export function createReconnectPolicy(role: ConnectionRole, now: () => number = Date.now) {
  let streak = 0;
  let lastAt = -Infinity;
  return {
    retryStrategy(attempt: number): number {
      const failoverWait = streak === 0 ? 0 : Math.min(200 * 2 ** (streak - 1), MAX_BACKOFF_MS);
      return Math.max(connectionBackoff(attempt), failoverWait);
    },
    reconnectOnError(err: Error): boolean | 1 {
      if (!isFailoverReply(err)) return false;
      const at = now();
      streak = at - lastAt > 30_000 ? 1 : streak + 1;
      lastAt = at;
      // Reconnect, and refuse the command: the API answers 503, BullMQ and the feed reader retry on their
      // own pace. (Sending it again by itself, ioredis's 2, can leave a worker's blocking command queued
      // past its close.)
      return 1;
    },
    /** Failover replies seen in the current streak (for tests and logs). */
    get streak() {
      return streak;
    },
  };
}

function roleOptions(role: ConnectionRole): RedisOptions {
  return role === 'fail-fast'
    ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1500, commandTimeout: 1500, enableAutoPipelining: true }
    : { maxRetriesPerRequest: null };
}

/** The URL's credentials and TLS, which every shape uses (a cluster's or sentinel's nodes come from elsewhere). */
function credentialsOf(url: string): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** Opens one connection of `role` to the configured Redis. A bare URL is a single server (tests, tools). */
export function openRedis(target: RedisTopology | string, role: ConnectionRole, name: string): RedisClient {
  const topology: RedisTopology =
    typeof target === 'string' ? { url: target, clusterNodes: null, sentinels: null, sentinelName: null, ackReplicas: 0, ackTimeoutMs: 1000 } : target;
  const policy = createReconnectPolicy(role);
  const common: RedisOptions = {
    connectionName: name,
    ...roleOptions(role),
    retryStrategy: (attempt) => policy.retryStrategy(attempt),
    reconnectOnError: (err) => policy.reconnectOnError(err),
  };
  if (topology.clusterNodes) {
    const { enableOfflineQueue, enableAutoPipelining, retryStrategy: _r, ...nodeOptions } = common;
    const options: ClusterOptions = {
      redisOptions: { ...nodeOptions, ...credentialsOf(topology.url) },
      clusterRetryStrategy: (attempt) => policy.retryStrategy(attempt),
      // Slots move during a failover: wait for the cluster to settle rather than fail at once.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 500,
      retryDelayOnTryAgain: 200,
      slotsRefreshTimeout: 2000,
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    };
    const cluster = new Cluster(
      topology.clusterNodes.map((node) => ({ host: node.host, port: node.port })),
      options,
    );
    return cluster as unknown as Redis;
  }
  if (topology.sentinels) {
    return new Redis({
      ...common,
      ...credentialsOf(topology.url),
      sentinels: topology.sentinels.map((node) => ({ host: node.host, port: node.port })),
      name: topology.sentinelName ?? 'mymaster',
      // Sentinels announce the switch: reconnect to the promoted primary before a write finds out.
      failoverDetector: true,
      sentinelRetryStrategy: (attempt) => policy.retryStrategy(attempt),
    });
  }
  return new Redis(topology.url, common);
}

export function createFailFastConnection(target: RedisTopology | string, name = 'subgate-api'): RedisClient {
  return openRedis(target, 'fail-fast', name);
}

export function createWorkerConnection(target: RedisTopology | string, name = 'subgate-worker'): RedisClient {
  return openRedis(target, 'worker', name);
}

/** Resolves when the connection is ready, or rejects after `timeoutMs`. */
export async function waitUntilReady(redis: RedisClient, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/**
 * Blocks start-up until Redis answers, logging while it waits. BullMQ probes the server once, when a
 * Queue is built, and a fail-fast connection that is not yet connected fails that probe for good; so the
 * API builds its queues only after this resolves.
 */
export async function waitForRedis(redis: RedisClient, log: (message: string) => void, stepMs = 5000): Promise<void> {
  for (;;) {
    try {
      await waitUntilReady(redis, stepMs);
      return;
    } catch {
      log(`waiting for Redis (status: ${redis.status})`);
    }
  }
}

/**
 * Every master of the connection (one for a single server): what a command that is not about one key
 * (SCAN, INFO, DBSIZE) must visit on a cluster.
 */
export function mastersOf(redis: RedisClient): Redis[] {
  const client = redis as Redis | Cluster;
  return client instanceof Cluster ? client.nodes('master') : [client];
}

export function isCluster(redis: RedisClient): boolean {
  return (redis as Redis | Cluster) instanceof Cluster;
}
