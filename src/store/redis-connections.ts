/**
 * Redis connections per BullMQ's production guide. The HTTP side's connection fails fast (no offline
 * queue, short timeouts) so a Redis outage becomes a quick 503 that Stripe retries; workers block on
 * Redis and wait for it to come back (maxRetriesPerRequest: null).
 */
import { Redis, type RedisOptions } from 'ioredis';

const reconnect: RedisOptions['retryStrategy'] = (attempt) => Math.min(attempt * 100, 2000);

export function createFailFastConnection(url: string, name = 'subgate-api'): Redis {
  return new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1500,
    commandTimeout: 1500,
    retryStrategy: reconnect,
    enableAutoPipelining: true,
  });
}

export function createWorkerConnection(url: string, name = 'subgate-worker'): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    retryStrategy: reconnect,
  });
}

/** Resolves when the connection is ready, or rejects after `timeoutMs`. */
export async function waitUntilReady(redis: Redis, timeoutMs = 5000): Promise<void> {
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
export async function waitForRedis(redis: Redis, log: (message: string) => void, stepMs = 5000): Promise<void> {
  for (;;) {
    try {
      await waitUntilReady(redis, stepMs);
      return;
    } catch {
      log(`waiting for Redis (status: ${redis.status})`);
    }
  }
}
