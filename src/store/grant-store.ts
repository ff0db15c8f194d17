/**
 * Owns the grants key family: `<prefix>:grants:cus:<customer id>` and `<prefix>:grants:user:<user id>`
 * (hashes: grant id -> the grant's JSON), one per reader, so a reader's grants live beside nothing
 * else's; and `<prefix>:grants:ids` (a hash: grant id -> the space-separated reader keys holding it), so
 * a grant can be revoked by its id alone. A grant is written into every reader hash it counts for (its
 * customer and that customer's user, or its user and the user's customers), so an answer by customer
 * and one by user each read one hash, in the same round trip as the reader. Grants are subgate's own
 * data: nothing read from Stripe writes here, so a resync or backfill keeps them. Each write is a
 * single-key command; the id index is written after the grant and read before it, and an index entry
 * whose grant is gone reads as absent.
 */
import type { Redis } from 'ioredis';
import type { AccessGrant } from '../domain/projection.js';

/** A reader a grant counts for. */
export type GrantReader = { customer: string } | { user: string };

export interface GrantStore {
  /** Stores the grant under its own reader and under each of `alsoFor` (the readers it also counts for). */
  create(grant: AccessGrant, alsoFor?: readonly GrantReader[]): Promise<void>;
  /** The grant with this id, or null. */
  get(id: string): Promise<AccessGrant | null>;
  /** Removes it from every reader holding it; null when there was none. */
  revoke(id: string): Promise<AccessGrant | null>;
  /** The grants that count for this customer (its own and its user's), oldest first. */
  forCustomer(customerId: string): Promise<AccessGrant[]>;
  /** The grants that count for this user (its own and its customers'), oldest first. */
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
  const readerKey = (reader: GrantReader) => ('customer' in reader ? keys.customer(reader.customer) : keys.user(reader.user));

  async function find(id: string): Promise<{ holders: string[]; grant: AccessGrant } | null> {
    const held = await redis.hget(keys.ids, id);
    if (held === null) return null;
    const holders = held.split(' ').filter((k) => k !== '');
    for (const key of holders) {
      const grant = parseGrant(await redis.hget(key, id));
      if (grant) return { holders, grant };
    }
    return null;
  }

  return {
    async create(grant, alsoFor = []) {
      const own: GrantReader = grant.customer !== null ? { customer: grant.customer } : { user: grant.user! };
      const holders = [...new Set([own, ...alsoFor].map(readerKey))];
      const json = JSON.stringify(grant);
      await Promise.all(holders.map((key) => redis.hset(key, grant.id, json)));
      await redis.hset(keys.ids, grant.id, holders.join(' '));
    },
    async get(id) {
      return (await find(id))?.grant ?? null;
    },
    async revoke(id) {
      const found = await find(id);
      if (found) await Promise.all(found.holders.map((key) => redis.hdel(key, id)));
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
