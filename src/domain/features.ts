/**
 * Which features a subscription grants: the one default feature (source `none`), the publisher's map of
 * price lookup_keys, price ids and product ids (source `config`), or the lookup_keys of the active
 * Stripe Entitlements features attached to each item's product, as the snapshot was read with them
 * (source `stripe`). Pure: the product catalog comes in with the snapshot. An item matching nothing
 * grants nothing, so a new product sold before it is mapped opens no door.
 */
import type { CustomerProjection, FeatureSettings, ProductSnapshot, SubscriptionItemSnapshot, SubscriptionSnapshot } from './projection.js';

/** A feature key as the API, the config map and grants spell it. */
export const FEATURE_KEY = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export const isFeatureKey = (value: unknown): value is string => typeof value === 'string' && FEATURE_KEY.test(value);

/** The behaviour before features: every subscription grants `content`. */
export const DEFAULT_FEATURE_SETTINGS: FeatureSettings = Object.freeze({ source: 'none', defaultFeature: 'content', map: Object.freeze({}) });

export function featureSettingsOf(settings: { features?: FeatureSettings }): FeatureSettings {
  return settings.features ?? DEFAULT_FEATURE_SETTINGS;
}

type Products = Readonly<Record<string, ProductSnapshot>>;

/** The features one item grants. */
export function featuresOfItem(item: SubscriptionItemSnapshot, settings: FeatureSettings, products: Products = {}): string[] {
  switch (settings.source) {
    case 'none':
      return [settings.defaultFeature];
    case 'config': {
      const keys = [item.lookup_key, item.price, item.product].filter((key): key is string => key !== null);
      return unique(keys.flatMap((key) => (Object.hasOwn(settings.map, key) ? settings.map[key]! : [])));
    }
    case 'stripe':
      return item.product !== null && Object.hasOwn(products, item.product) ? [...(products[item.product]!.features ?? [])] : [];
    default:
      return [];
  }
}

/** The features a subscription grants: the union over its items (under `none`, the default whatever the items). */
export function featuresOfSubscription(subscription: SubscriptionSnapshot, settings: FeatureSettings, products: Products = {}): string[] {
  if (settings.source === 'none') return [settings.defaultFeature];
  return unique((subscription.items ?? []).flatMap((item) => featuresOfItem(item, settings, products)));
}

/** Every feature some subscription of the customer grants or granted (whatever its status), sorted. */
export function featuresOfCustomer(projection: CustomerProjection | null, settings: FeatureSettings): string[] {
  if (projection === null || projection.deleted) return [];
  const products = projection.products ?? {};
  return unique(projection.subscriptions.flatMap((s) => featuresOfSubscription(s, settings, products))).sort();
}

/** The product ids a customer's subscriptions point at (for the product catalog and for notices). */
export function productsOfSubscriptions(subscriptions: readonly SubscriptionSnapshot[]): string[] {
  return unique(subscriptions.flatMap((s) => (s.items ?? []).map((item) => item.product).filter((p): p is string => p !== null))).sort();
}

export class AccessFeaturesError extends Error {
  constructor(readonly entry: string, detail: string) {
    super(`entry "${entry}" ${detail}`);
    this.name = 'AccessFeaturesError';
  }
}

// A price lookup_key (Stripe allows up to 200 characters), a price id or a product id.
const MAP_KEY = /^[A-Za-z0-9_.:-]{1,200}$/;

/**
 * Parses ACCESS_FEATURES: comma-separated `key=feature[+feature…]`. A malformed entry throws naming it,
 * and so does a key given twice (the second would silently win).
 */
export function parseAccessFeatures(text: string): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new AccessFeaturesError(entry, 'must be key=feature[+feature…]');
    const key = entry.slice(0, eq).trim();
    const features = entry.slice(eq + 1).split('+').map((f) => f.trim());
    if (!MAP_KEY.test(key)) throw new AccessFeaturesError(entry, 'has a key that is not a lookup_key, price_… or prod_… id');
    if (features.length === 0 || !features.every(isFeatureKey)) {
      throw new AccessFeaturesError(entry, 'must name features of lowercase letters, digits, _ . - (joined by +)');
    }
    if (Object.hasOwn(map, key)) throw new AccessFeaturesError(entry, `repeats the key ${key}`);
    map[key] = unique(features);
  }
  return map;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
