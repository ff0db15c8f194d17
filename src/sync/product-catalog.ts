/**
 * The product catalog as customer refreshes use it: each product's name (notices name what is at risk)
 * and, with ACCESS_FEATURES_SOURCE=stripe, the lookup_keys of its active Entitlements features. Entries
 * live in Redis (store/product-catalog-store.ts) and are read from Stripe only when missing, older than
 * PRODUCT_FEATURES_TTL_S, when a product event says the product changed, or after a resync cleared
 * them: a customer refresh whose products are known costs no Stripe call. A product Stripe no longer has
 * is kept unnamed and grants nothing.
 */
import type { Clock, ProductSnapshot } from '../domain/projection.js';
import type { Logger } from '../logger.js';
import type { ProductCatalogStore } from '../store/product-catalog-store.js';
import { isStripeMissing, type StripeGateway } from '../adapters/stripe-gateway.js';

export interface ProductCatalog {
  /** Entries for these products; Stripe is read only for those missing or older than `maxAgeMs` (default the TTL). */
  productsFor(productIds: readonly string[], options?: { maxAgeMs?: number }): Promise<Record<string, ProductSnapshot>>;
  /** A product event: read the product again now (a deleted one grants nothing). */
  refreshProduct(productId: string, deleted: boolean): Promise<void>;
  /** Every entry is read again by the next refresh that needs it (the resync). */
  expireAll(): Promise<void>;
  /** The features the products read so far grant. */
  knownFeatures(): Promise<Set<string>>;
}

export function createProductCatalog(deps: {
  store: ProductCatalogStore;
  stripe: Pick<StripeGateway, 'fetchProduct' | 'listProductFeatures'>;
  clock: Clock;
  ttlMs: number;
  /** With `stripe` features are read; otherwise only names. */
  withFeatures: boolean;
  logger: Logger;
}): ProductCatalog {
  const log = deps.logger.child({ component: 'product-catalog' });

  // Refreshes needing one product at once (a resync page, a burst of events) share one Stripe read.
  const inFlight = new Map<string, Promise<{ name: string | null; features: string[] | null; read_at: number }>>();
  function readShared(productId: string) {
    let pending = inFlight.get(productId);
    if (!pending) {
      pending = read(productId, false).finally(() => inFlight.delete(productId));
      inFlight.set(productId, pending);
    }
    return pending;
  }

  async function read(productId: string, deleted: boolean) {
    const readAt = deps.clock.now();
    let name: string | null = null;
    let features: string[] | null = deps.withFeatures ? [] : null;
    if (!deleted) {
      try {
        const product = await deps.stripe.fetchProduct(productId);
        name = typeof product.name === 'string' && product.name !== '' ? product.name : null;
        if (deps.withFeatures && product.deleted !== true) {
          const attached = await deps.stripe.listProductFeatures(productId);
          features = [...new Set(attached.filter((pf) => pf.entitlement_feature?.active === true).map((pf) => pf.entitlement_feature.lookup_key))].sort();
        }
      } catch (err) {
        if (!isStripeMissing(err)) throw err;
      }
    }
    const entry = { name, features, read_at: readAt };
    await deps.store.write(productId, entry);
    log.debug({ productId, features: features?.length ?? null }, 'product read');
    return entry;
  }

  return {
    async productsFor(productIds, options = {}) {
      const maxAgeMs = options.maxAgeMs ?? deps.ttlMs;
      const now = deps.clock.now();
      const held = await deps.store.readMany(productIds);
      const out: Record<string, ProductSnapshot> = {};
      for (const id of productIds) {
        let entry = held.get(id);
        // A TTL also bounds how long a missed product event can leave an entry wrong.
        if (!entry || now - entry.read_at >= maxAgeMs || (deps.withFeatures && entry.features === null)) entry = await readShared(id);
        out[id] = { name: entry.name, features: deps.withFeatures ? (entry.features ?? []) : null };
      }
      return out;
    },
    async refreshProduct(productId, deleted) {
      await read(productId, deleted);
    },
    expireAll: () => deps.store.clear(),
    knownFeatures: () => deps.store.allFeatures(),
  };
}
