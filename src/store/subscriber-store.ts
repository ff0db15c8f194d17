/**
 * Owns the subscriber key family: `<prefix>:cus:<customer id>` (a hash: read_at, user, doc) and
 * `<prefix>:user:<user id>` (a set of customer ids). Every write goes through one Lua script that
 * compares read instants, so a snapshot read earlier than the stored one never overwrites it, and the
 * user index moves in the same atomic step.
 */
import type { Redis } from 'ioredis';
import type { CustomerProjection } from '../domain/projection.js';

export type WriteResult = 'written' | 'stale';

export interface SubscriberStore {
  read(customerId: string): Promise<CustomerProjection | null>;
  /** Every customer whose metadata names this user (usually one), in one round trip. */
  readByUser(userId: string): Promise<CustomerProjection[]>;
  write(projection: CustomerProjection): Promise<WriteResult>;
}

// KEYS[1] customer hash. ARGV: read_at, doc, user ('' for none), user-key prefix, customer id.
// The user keys are derived inside the script because the old user is only known there.
const WRITE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'read_at')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
local old_user = redis.call('HGET', KEYS[1], 'user')
redis.call('HSET', KEYS[1], 'read_at', ARGV[1], 'doc', ARGV[2], 'user', ARGV[3])
if old_user and old_user ~= '' and old_user ~= ARGV[3] then
  redis.call('SREM', ARGV[4] .. old_user, ARGV[5])
end
if ARGV[3] ~= '' then redis.call('SADD', ARGV[4] .. ARGV[3], ARGV[5]) end
return 1
`;

// KEYS[1] user set. ARGV[1] customer-key prefix. Returns the docs of every customer in the set.
const READ_BY_USER_SCRIPT = `
local ids = redis.call('SMEMBERS', KEYS[1])
local docs = {}
for i, id in ipairs(ids) do
  local doc = redis.call('HGET', ARGV[1] .. id, 'doc')
  if doc then docs[#docs + 1] = doc end
end
return docs
`;

interface ScriptedRedis extends Redis {
  subgateWriteSubscriber(key: string, readAt: string, doc: string, user: string, userPrefix: string, customerId: string): Promise<number>;
  subgateReadByUser(key: string, customerPrefix: string): Promise<string[]>;
}

export function createSubscriberStore(deps: { redis: Redis; prefix: string }): SubscriberStore {
  const customerPrefix = `${deps.prefix}:cus:`;
  const userPrefix = `${deps.prefix}:user:`;
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateWriteSubscriber !== 'function') {
    redis.defineCommand('subgateWriteSubscriber', { numberOfKeys: 1, lua: WRITE_SCRIPT });
    redis.defineCommand('subgateReadByUser', { numberOfKeys: 1, lua: READ_BY_USER_SCRIPT });
  }

  return {
    async read(customerId) {
      const doc = await redis.hget(customerPrefix + customerId, 'doc');
      return doc === null ? null : (JSON.parse(doc) as CustomerProjection);
    },
    async readByUser(userId) {
      const docs = await redis.subgateReadByUser(userPrefix + userId, customerPrefix);
      return docs.map((doc) => JSON.parse(doc) as CustomerProjection);
    },
    async write(projection) {
      const written = await redis.subgateWriteSubscriber(
        customerPrefix + projection.customer,
        String(projection.read_at),
        JSON.stringify(projection),
        projection.user ?? '',
        userPrefix,
        projection.customer,
      );
      return written === 1 ? 'written' : 'stale';
    },
  };
}
