/**
 * The Lua scripts behind the subscriber store, kept apart so the store module reads as its interface.
 * Customer hash fields: read_at, doc, user, version, and per card-at-expiry `flag:<mark>` ("<ms>|<source>")
 * and `honoured:<mark>` ("<ms>"). Each script is one atomic step; every change bumps `version`, which
 * the entitlement feed uses to drop a stale publication.
 */

// KEYS[1] customer hash, KEYS[2] expiry index (zset: customer -> earliest billed card expiry).
// ARGV: read_at, doc, user ('' for none), user-key prefix, customer id, index score ('' = leave the
// index), then the mark keys of the cards still on the customer (marks of other cards are dropped).
// The user keys are derived inside the script because the old user is only known there.
// Returns the new version, or 0 when a later read is already stored.
export const WRITE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'read_at')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
local old_user = redis.call('HGET', KEYS[1], 'user')
redis.call('HSET', KEYS[1], 'read_at', ARGV[1], 'doc', ARGV[2], 'user', ARGV[3])
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
if old_user and old_user ~= '' and old_user ~= ARGV[3] then
  redis.call('SREM', ARGV[4] .. old_user, ARGV[5])
end
if ARGV[3] ~= '' then redis.call('SADD', ARGV[4] .. ARGV[3], ARGV[5]) end
if ARGV[6] == '' then
  redis.call('ZREM', KEYS[2], ARGV[5])
else
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
end
local keep = {}
for i = 7, #ARGV do
  keep['flag:' .. ARGV[i]] = true
  keep['honoured:' .. ARGV[i]] = true
end
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local family = string.match(field, '^(%a+):')
  if (family == 'flag' or family == 'honoured') and not keep[field] then redis.call('HDEL', KEYS[1], field) end
end
return version
`;

// KEYS[1] user set. ARGV[1] customer-key prefix. Returns each customer's whole hash (flat field/value list).
export const READ_BY_USER_SCRIPT = `
local ids = redis.call('SMEMBERS', KEYS[1])
local out = {}
for i, id in ipairs(ids) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields > 0 then out[#out + 1] = fields end
end
return out
`;

// KEYS[1] customer hash. ARGV: mark key, flagged_at ms, source.
// An honoured card is never flagged again; a flag is raised once.
export const RAISE_FLAG_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('HEXISTS', KEYS[1], 'honoured:' .. ARGV[1]) == 1 then return 'honoured' end
if redis.call('HSETNX', KEYS[1], 'flag:' .. ARGV[1], ARGV[2] .. '|' .. ARGV[3]) == 0 then return 'already_flagged' end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 'raised'
`;

// KEYS[1] customer hash. ARGV: mark key, honoured_at ms.
export const HONOUR_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('HSETNX', KEYS[1], 'honoured:' .. ARGV[1], ARGV[2]) == 0 then return 'already_honoured' end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 'honoured'
`;
