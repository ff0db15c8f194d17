/**
 * Owns the grants key family: `<prefix>:grants:cus:<customer id>` and `<prefix>:grants:user:<user id>`
 * (hashes: grant id -> the grant's JSON), one per reader, so a reader's grants live beside nothing
 * else's; and `<prefix>:grants:ids` (a hash: grant id -> the reader key it lives in), so a grant can be
 * revoked by its id alone. Grants are subgate's own data: nothing read from Stripe writes here, so a
 * resync or backfill keeps them. Each write is a single-key command on the reader's hash; the id index
 * is written after it and read before it, and an index entry whose grant is gone reads as absent.
 */
import type { Redis } from 'ioredis';
import type { AccessGrant } from '../domain/projection.js';

export interface GrantStore {
  create(grant: AccessGrant): Promise<void>;
  /** The grant with this id, or null. */
  get(id: string): Promise<AccessGrant | null>;
  /** Removes it; null when there was none. */
  revoke(id: string): Promise<AccessGrant | null>;
  forCustomer(customerId: string): Promise<AccessGrant[]>;
  forUser(userId: string): Promise<AccessGrant[]>;
}

/** The one place the grants keys are spelled. */
export function grantKeys(prefix: string) {
  return {
    customer: (customerId: string) => `${prefix}:grants:cus:${customerId}`,
    user: (userId: string) => `${prefix}:grants:user:${userId}`,
    ids: `${prefix}:grants:ids`,
  };
}

export function createGrantStore(deps: { redis: Redis; prefix: string }): GrantStore {
  const { redis } = deps;
  const keys = grantKeys(deps.prefix);
  const ownerKey = (grant: Pick<AccessGrant, 'customer' | 'user'>) => (grant.customer !== null ? keys.customer(grant.customer) : keys.user(grant.user!));

  async function get(id: string): Promise<{ key: string; grant: AccessGrant } | null> {
    const key = await redis.hget(keys.ids, id);
    if (key === null) return null;
    const grant = parseGrant(await redis.hget(key, id));
    return grant ? { key, grant } : null;
  }

  return {
    async create(grant) {
      const key = ownerKey(grant);
      await redis.hset(key, grant.id, JSON.stringify(grant));
      await redis.hset(keys.ids, grant.id, key);
    },
    async get(id) {
      return (await get(id))?.grant ?? null;
    },
    async revoke(id) {
      const found = await get(id);
      if (found) await redis.hdel(found.key, id);
      await redis.hdel(keys.ids, id);
      return found?.grant ?? null;
    },
    async forCustomer(customerId) {
      return parseGrants(await redis.hgetall(keys.customer(customerId)));
    },
    async forUser(userId) {
      return parseGrants(await redis.hgetall(keys.user(userId)));
    },
  };
}

/** The grants of one reader hash (HGETALL's reply), oldest first. */
export function parseGrants(fields: Record<string, string> | null | undefined): AccessGrant[] {
  return Object.values(fields ?? {})
    .map(parseGrant)
    .filter((g): g is AccessGrant => g !== null)
    .sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
}

function parseGrant(text: string | null | undefined): AccessGrant | null {
  if (!text) return null;
  try {
    const g = JSON.parse(text) as AccessGrant;
    return typeof g.id === 'string' && typeof g.feature === 'string' && typeof g.until === 'number' ? g : null;
  } catch {
    return null;
  }
}
