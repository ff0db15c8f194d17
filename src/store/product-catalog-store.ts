/**
 * Owns the product catalog cache: `<prefix>:products` (a hash: product id -> JSON {name, features,
 * read_at}). Not per customer: one entry per product, read by every customer refresh that needs it, so
 * the number of Stripe reads follows the products and the TTL, never the customers. A write keeps the
 * entry from the later read (one script), so a slow read never overwrites what a product event fetched.
 */
import type { Redis } from 'ioredis';

export interface CatalogEntry {
  name: string | null;
  /** Lookup keys of the product's active features; null when features are not read from Stripe. */
  features: string[] | null;
  /** ms; when the Stripe read that produced it began. */
  read_at: number;
}

export interface ProductCatalogStore {
  /** The entries held for these products, in one round trip; missing ones are left out. */
  readMany(productIds: readonly string[]): Promise<Map<string, CatalogEntry>>;
  /** Stores an entry unless a later read is already stored. */
  write(productId: string, entry: CatalogEntry): Promise<'written' | 'stale'>;
  /** Every feature some held product grants (what a grant may name under the `stripe` source). */
  allFeatures(): Promise<Set<string>>;
  /** Drops every entry (the resync reads each product again, once). */
  clear(): Promise<void>;
}

/** The one place the catalog key is spelled. */
export function productCatalogKeys(prefix: string) {
  return { catalog: `${prefix}:products` };
}

// KEYS[1] catalog hash. ARGV: product id, read_at, entry JSON. Returns 1 when written, 0 when stale.
const WRITE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ok, doc = pcall(cjson.decode, current)
  if ok and type(doc) == 'table' and tonumber(doc.read_at) and tonumber(doc.read_at) > tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

interface ScriptedRedis extends Redis {
  subgateWriteCatalogEntry(key: string, productId: string, readAt: string, entry: string): Promise<number>;
}

export function createProductCatalogStore(deps: { redis: Redis; prefix: string }): ProductCatalogStore {
  const keys = productCatalogKeys(deps.prefix);
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateWriteCatalogEntry !== 'function') {
    redis.defineCommand('subgateWriteCatalogEntry', { numberOfKeys: 1, lua: WRITE_SCRIPT });
  }
  return {
    async readMany(productIds) {
      const out = new Map<string, CatalogEntry>();
      if (productIds.length === 0) return out;
      const values = await redis.hmget(keys.catalog, ...productIds);
      productIds.forEach((id, index) => {
        const entry = parseEntry(values[index] ?? null);
        if (entry) out.set(id, entry);
      });
      return out;
    },
    async write(productId, entry) {
      const written = await redis.subgateWriteCatalogEntry(keys.catalog, productId, String(entry.read_at), JSON.stringify(entry));
      return written === 1 ? 'written' : 'stale';
    },
    async allFeatures() {
      const features = new Set<string>();
      for (const value of await redis.hvals(keys.catalog)) for (const f of parseEntry(value)?.features ?? []) features.add(f);
      return features;
    },
    async clear() {
      await redis.del(keys.catalog);
    },
  };
}

function parseEntry(text: string | null): CatalogEntry | null {
  if (text === null) return null;
  try {
    const doc = JSON.parse(text) as Partial<CatalogEntry>;
    if (typeof doc.read_at !== 'number') return null;
    return {
      name: typeof doc.name === 'string' ? doc.name : null,
      features: Array.isArray(doc.features) ? doc.features.filter((f): f is string => typeof f === 'string') : null,
      read_at: doc.read_at,
    };
  } catch {
    return null;
  }
}
