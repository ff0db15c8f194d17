/**
 * Owns `<prefix>:{s<n>}:idx:email` (256 shards, by the address's digest; layout: key-layout.ts): hashes
 * from the SHA-256 of a normalised e-mail address to the customers that carry it (space-separated ids), so
 * an operator can find a reader by address without subgate keeping a second copy of addresses, or scanning
 * every customer. Each shard's change is one script, so concurrent refreshes cannot lose an id; an address
 * change whose two digests sit in two shards is two steps (join, then leave), so a crash between them
 * leaves the customer findable under both addresses for a while, never under neither.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { indexKeyFor } from './key-layout.js';

export interface EmailIndex {
  /** Moves `customerId` from `previous` to `next` (either may be null). */
  move(customerId: string, previous: string | null, next: string | null): Promise<void>;
  customersOf(email: string): Promise<string[]>;
}

/** KEYS[1] the hash; ARGV: customer, field to leave ('' for none), field to join ('' for none). */
const MOVE_SCRIPT = `
local function without(list, id)
  local kept = {}
  for part in string.gmatch(list or '', '%S+') do if part ~= id then table.insert(kept, part) end end
  return kept
end
if ARGV[2] ~= '' and ARGV[2] ~= ARGV[3] then
  local kept = without(redis.call('HGET', KEYS[1], ARGV[2]), ARGV[1])
  if #kept == 0 then redis.call('HDEL', KEYS[1], ARGV[2]) else redis.call('HSET', KEYS[1], ARGV[2], table.concat(kept, ' ')) end
end
if ARGV[3] ~= '' then
  local kept = without(redis.call('HGET', KEYS[1], ARGV[3]), ARGV[1])
  table.insert(kept, ARGV[1])
  redis.call('HSET', KEYS[1], ARGV[3], table.concat(kept, ' '))
end
return 1
`;

interface ScriptedRedis extends Redis {
  subgateEmailIndexMove(key: string, customer: string, leave: string, join: string): Promise<number>;
}

export function emailIndexKeys(prefix: string) {
  return { shardFor: (digest: string) => indexKeyFor(prefix, 'idx:email', digest) };
}

const fieldOf = (email: string | null): string =>
  email && email.trim() !== '' ? createHash('sha256').update(email.trim().toLowerCase(), 'utf8').digest('hex') : '';

export function createEmailIndex(deps: { redis: Redis; prefix: string }): EmailIndex {
  const keys = emailIndexKeys(deps.prefix);
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateEmailIndexMove !== 'function') redis.defineCommand('subgateEmailIndexMove', { numberOfKeys: 1, lua: MOVE_SCRIPT });
  return {
    async move(customerId, previous, next) {
      const leave = fieldOf(previous);
      const join = fieldOf(next);
      if (leave === '' && join === '') return;
      const joinKey = join === '' ? null : keys.shardFor(join);
      const leaveKey = leave === '' ? null : keys.shardFor(leave);
      if (joinKey !== null && joinKey === leaveKey) {
        await redis.subgateEmailIndexMove(joinKey, customerId, leave, join);
        return;
      }
      if (joinKey !== null) await redis.subgateEmailIndexMove(joinKey, customerId, '', join);
      if (leaveKey !== null) await redis.subgateEmailIndexMove(leaveKey, customerId, leave, '');
    },
    async customersOf(email) {
      const field = fieldOf(email);
      if (field === '') return [];
      const list = await redis.hget(keys.shardFor(field), field);
      return list ? list.split(' ').filter(Boolean) : [];
    },
  };
}
