/**
 * Owns `<prefix>:idx:email`: a hash from the SHA-256 of a normalised e-mail address to the customers that
 * carry it (space-separated ids), so an operator can find a reader by address without subgate keeping a
 * second copy of addresses, or scanning every customer. Moved in one script per change of address, so
 * concurrent refreshes of one customer cannot leave it under both addresses or neither.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

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
  return { index: `${prefix}:idx:email` };
}

const fieldOf = (email: string | null): string =>
  email && email.trim() !== '' ? createHash('sha256').update(email.trim().toLowerCase(), 'utf8').digest('hex') : '';

export function createEmailIndex(deps: { redis: Redis; prefix: string }): EmailIndex {
  const key = emailIndexKeys(deps.prefix).index;
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateEmailIndexMove !== 'function') redis.defineCommand('subgateEmailIndexMove', { numberOfKeys: 1, lua: MOVE_SCRIPT });
  return {
    async move(customerId, previous, next) {
      const leave = fieldOf(previous);
      const join = fieldOf(next);
      if (leave === '' && join === '') return;
      await redis.subgateEmailIndexMove(key, customerId, leave, join);
    },
    async customersOf(email) {
      const field = fieldOf(email);
      if (field === '') return [];
      const list = await redis.hget(key, field);
      return list ? list.split(' ').filter(Boolean) : [];
    },
  };
}
