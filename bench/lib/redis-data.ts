/**
 * What the bench puts in and reads out of its own Redis: the baselines' hashes, the projected
 * customers (written through the real subscriber store), and memory figures.
 */
import type { Redis } from 'ioredis';
import { createSubscriberStore, subscriberKeys } from '../../src/store/subscriber-store.js';
import { allIndexKeys } from '../../src/store/key-layout.js';
import { BASELINE_HASHES, baselineHashFields, baselineHashKey } from './baseline-data.js';
import type { BenchCustomer } from './fixtures.js';

export async function seedBaselineHashes(redis: Redis): Promise<void> {
  const pipeline = redis.pipeline();
  for (let i = 0; i < BASELINE_HASHES; i++) pipeline.hset(baselineHashKey(i), baselineHashFields(i));
  await pipeline.exec();
}

/** Writes every projection through createSubscriberStore().write, 500 in flight at a time. */
export async function seedCustomers(redis: Redis, prefix: string, customers: readonly BenchCustomer[]): Promise<void> {
  const store = createSubscriberStore({ redis, prefix });
  for (let i = 0; i < customers.length; i += 500) {
    const results = await Promise.all(customers.slice(i, i + 500).map((c) => store.write(c.projection)));
    if (results.some((r) => r !== 'written')) throw new Error('seeding: a projection was not written');
  }
}

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory');
  return Number(match[1]);
}

export async function redisVersion(redis: Redis): Promise<string> {
  const info = await redis.info('server');
  return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
}

async function memoryUsage(redis: Redis, key: string): Promise<number> {
  const bytes = await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
  if (bytes === null) throw new Error(`MEMORY USAGE: no key ${key}`);
  return Number(bytes);
}

/** MEMORY USAGE of a key that may not exist (an empty index shard): 0 then. */
async function memoryUsageIfAny(redis: Redis, key: string): Promise<number> {
  const bytes = await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
  return bytes === null ? 0 : Number(bytes);
}

export interface SubscriberMemory {
  sample: number;
  /** Mean bytes of the customer hash. */
  hash: number;
  /** Mean bytes of user-index sets per subscriber (a set shared by n customers counts 1/n each). */
  userIndex: number;
  /** Bytes of shared `<prefix>:idx:*` keys (e.g. the card-expiry schedule), divided by every customer. */
  indexes: number;
  perSubscriber: number;
  /** Mean length of the projection JSON (the `doc` field). */
  docBytes: number;
}

/** MEMORY USAGE over `sample` customers spread evenly through the list, plus the shared indexes. */
export async function subscriberMemory(redis: Redis, prefix: string, customers: readonly BenchCustomer[], sample: number): Promise<SubscriberMemory> {
  const step = Math.max(1, Math.floor(customers.length / sample));
  const picked = customers.filter((_, i) => i % step === 0).slice(0, sample);
  const keys = subscriberKeys(prefix);
  let hash = 0;
  let docBytes = 0;
  for (const c of picked) {
    hash += await memoryUsage(redis, keys.customer(c.id));
    docBytes += Buffer.byteLength(JSON.stringify(c.projection));
  }
  // The indexes are sharded (key-layout.ts): the expiry index's shards, and the user index's.
  let indexBytes = 0;
  for (const key of keys.expiryIndexShards()) indexBytes += await memoryUsageIfAny(redis, key);
  let userBytes = 0;
  for (const key of allIndexKeys(prefix, 'users')) userBytes += await memoryUsageIfAny(redis, key);
  // Shared by every subscriber: their cost is spread over all of them.
  const userIndex = userBytes / customers.length;
  const n = picked.length;
  const indexes = indexBytes / customers.length;
  return { sample: n, hash: hash / n, userIndex, indexes, perSubscriber: hash / n + userIndex + indexes, docBytes: docBytes / n };
}

/** Deletes `${prefix}:*` with SCAN + UNLINK. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
