/**
 * The Lua scripts behind the subscriber store, kept apart so the store module reads as its interface.
 * Customer hash fields: read_order, read_at, doc, user, version, and per card-at-expiry `flag:<mark>` ("<ms>|<source>")
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

// KEYS[1] customer hash, KEYS[2] the customer's shard of the expiry index (zset: customer -> earliest
// billed card expiry); both carry the customer's shard tag. ARGV: read order, read_at, doc, user ('' for
// none), customer id, index score ('' = leave the index), then the mark keys of the cards still on the
// customer (marks of other cards are dropped). Returns {new version, previous user ('' for none)}, or 0
// when a read that began later is already stored.
export const WRITE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'read_order')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
local old_user = redis.call('HGET', KEYS[1], 'user') or ''
redis.call('HSET', KEYS[1], 'read_order', ARGV[1], 'read_at', ARGV[2], 'doc', ARGV[3], 'user', ARGV[4])
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
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
return {version, old_user}
`;

// KEYS[1] the user's shard of the user index (hash: user id -> space-separated customer ids). ARGV: user
// id, customer id. Adds the customer to the user's list (a no-op when it is there).
export const USER_ADD_SCRIPT = USER_LIST_FUNCTIONS + `
local list = redis.call('HGET', KEYS[1], ARGV[1]) or ''
local next_list = list_with(list, ARGV[2])
if next_list ~= list then redis.call('HSET', KEYS[1], ARGV[1], next_list) end
return 1
`;

// KEYS[1] the user's shard of the user index. ARGV: user id, customer id. Takes the customer off the list.
export const USER_REMOVE_SCRIPT = USER_LIST_FUNCTIONS + `
local rest = list_without(redis.call('HGET', KEYS[1], ARGV[1]), ARGV[2])
if rest == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], rest) end
return 1
`;

// KEYS[1] any key of the customer's shard: the owner of that slot answers. Its clock (TIME, in µs: two
// reads a millisecond apart still get an order) orders the reads of that customer, one timeline for every
// process whatever its host's clock says. As a string: Lua would turn a reply of 16 digits into a float.
export const READ_INSTANT_SCRIPT = `
local t = redis.call('TIME')
return t[1] .. string.format('%06d', tonumber(t[2]))
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
