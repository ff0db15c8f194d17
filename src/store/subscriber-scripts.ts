/**
 * The Lua scripts behind the subscriber store, kept apart so the store module reads as its interface.
 * Customer hash fields: read_at, doc, user, version, and per card-at-expiry `flag:<mark>` ("<ms>|<source>")
 * and `honoured:<mark>` ("<ms>"). Each script is one atomic step; every change bumps `version`, which
 * the entitlement feed uses to drop a stale publication.
 */

// The user index is one hash, user id -> space-separated customer ids (almost always one): a field
// costs a few dozen bytes where a set per user cost about two hundred.
const USER_LIST_FUNCTIONS = `
local function list_without(list, id)
  local out = {}
  for item in string.gmatch(list or '', '%S+') do if item ~= id then out[#out + 1] = item end end
  return table.concat(out, ' ')
end
local function list_with(list, id)
  for item in string.gmatch(list, '%S+') do if item == id then return list end end
  if list == '' then return id end
  return list .. ' ' .. id
end
`;

// KEYS[1] customer hash, KEYS[2] expiry index (zset: customer -> earliest billed card expiry),
// KEYS[3] user index (hash). ARGV: read_at, doc, user ('' for none), customer id, index score ('' =
// leave the index), then the mark keys of the cards still on the customer (marks of other cards are
// dropped). Returns the new version, or 0 when a later read is already stored.
export const WRITE_SCRIPT = USER_LIST_FUNCTIONS + `
local current = redis.call('HGET', KEYS[1], 'read_at')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
local old_user = redis.call('HGET', KEYS[1], 'user')
redis.call('HSET', KEYS[1], 'read_at', ARGV[1], 'doc', ARGV[2], 'user', ARGV[3])
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
if old_user and old_user ~= '' and old_user ~= ARGV[3] then
  local rest = list_without(redis.call('HGET', KEYS[3], old_user), ARGV[4])
  if rest == '' then redis.call('HDEL', KEYS[3], old_user) else redis.call('HSET', KEYS[3], old_user, rest) end
end
if ARGV[3] ~= '' then
  local list = redis.call('HGET', KEYS[3], ARGV[3]) or ''
  local next_list = list_with(list, ARGV[4])
  if next_list ~= list then redis.call('HSET', KEYS[3], ARGV[3], next_list) end
end
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[2], ARGV[4])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
end
local keep = {}
for i = 6, #ARGV do
  keep['flag:' .. ARGV[i]] = true
  keep['honoured:' .. ARGV[i]] = true
end
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local family = string.match(field, '^(%a+):')
  if (family == 'flag' or family == 'honoured') and not keep[field] then redis.call('HDEL', KEYS[1], field) end
end
return version
`;

// KEYS[1] user index (hash). ARGV[1] user id, ARGV[2] customer-key prefix.
// Returns each customer's whole hash (flat field/value list).
export const READ_BY_USER_SCRIPT = `
local out = {}
for id in string.gmatch(redis.call('HGET', KEYS[1], ARGV[1]) or '', '%S+') do
  local fields = redis.call('HGETALL', ARGV[2] .. id)
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
