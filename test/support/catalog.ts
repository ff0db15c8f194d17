/**
 * A publisher's catalog in the Stripe double: News, Puzzles and Cooking products, a price for each (with
 * a lookup_key) and a bundle, and Entitlements features attached to them; and readers holding several
 * subscriptions, each paid by its own card.
 */
import type { StripeDouble } from './stripe-double.js';
import { cardPaymentMethodFixture, customerFixture, priceFixture, subscriptionFixture, type StripeJson } from '../fixtures/stripe-objects.js';
import { entitlementFeatureFixture, productFixture } from '../fixtures/products.js';

export interface Catalog {
  products: { news: StripeJson; puzzles: StripeJson; cooking: StripeJson; bundle: StripeJson };
  prices: { news: StripeJson; puzzles: StripeJson; cooking: StripeJson; bundle: StripeJson };
  features: { news: StripeJson; puzzles: StripeJson; cooking: StripeJson };
}

/** The config map a publisher using lookup_keys, a product id and a price id would write for this catalog. */
export function accessFeaturesFor(c: Catalog): string {
  return `news_monthly=news,${c.products.puzzles.id}=puzzles,${c.prices.cooking.id}=cooking,bundle_annual=news+puzzles+cooking`;
}

export function seedCatalog(stripe: StripeDouble, nowSeconds: number, tag = 'cat'): Catalog {
  const product = (key: string, name: string) => stripe.putProduct(productFixture({ id: `prod_${tag}${key}`, name, created: nowSeconds }));
  const products = { news: product('News', 'News'), puzzles: product('Puzzles', 'Puzzles'), cooking: product('Cooking', 'Cooking'), bundle: product('Bundle', 'All Access') };
  const price = (key: string, productId: string, lookup_key: string | null) =>
    stripe.putPrice(priceFixture({ id: `price_${tag}${key}`, product: productId, lookup_key }, nowSeconds));
  const prices = {
    news: price('News', products.news.id, 'news_monthly'),
    puzzles: price('Puzzles', products.puzzles.id, null),
    cooking: price('Cooking', products.cooking.id, null),
    bundle: price('Bundle', products.bundle.id, 'bundle_annual'),
  };
  const feature = (key: string) => stripe.putEntitlementFeature(entitlementFeatureFixture({ id: `feat_${tag}${key}`, lookup_key: key }));
  const features = { news: feature('news'), puzzles: feature('puzzles'), cooking: feature('cooking') };
  stripe.attachFeature(products.news.id, features.news);
  stripe.attachFeature(products.puzzles.id, features.puzzles);
  stripe.attachFeature(products.cooking.id, features.cooking);
  for (const f of Object.values(features)) stripe.attachFeature(products.bundle.id, f);
  return { products, prices, features };
}

export interface HeldSubscription {
  price: StripeJson;
  exp_month?: number;
  exp_year?: number;
  status?: string;
}

/** A customer with one subscription per entry, each paid by a card of its own (the subscription's default). */
export function seedMultiReader(stripe: StripeDouble, opts: { userId: string; nowSeconds: number; subscriptions: HeldSubscription[] }) {
  const customer = stripe.putCustomer(customerFixture({ metadata: { user_id: opts.userId } }));
  const held = opts.subscriptions.map((entry, index) => {
    const card = stripe.putPaymentMethod(
      cardPaymentMethodFixture({ customer: customer.id, exp_month: entry.exp_month ?? 12, exp_year: entry.exp_year ?? 2030, last4: `000${index}`.slice(-4) }),
    );
    const subscription = stripe.putSubscription(
      subscriptionFixture({
        customer: customer.id,
        status: (entry.status ?? 'active') as never,
        default_payment_method: card.id,
        created: opts.nowSeconds - 30 * 86_400 + index,
        current_period_start: opts.nowSeconds - 10 * 86_400,
        current_period_end: opts.nowSeconds + 20 * 86_400,
        price: { id: entry.price.id, product: entry.price.product, lookup_key: entry.price.lookup_key },
      }),
    );
    return { card, subscription };
  });
  return { customer, held };
}

/** Puts another price on a subscription's only item (an upgrade, a downgrade, a swap). */
export function swapPrice(stripe: StripeDouble, subscriptionId: string, price: StripeJson): void {
  const subscription = stripe.getSubscription(subscriptionId)!;
  const item = subscription.items.data[0];
  item.price = { ...item.price, id: price.id, product: price.product, lookup_key: price.lookup_key };
  item.plan = { ...item.plan, id: price.id, product: price.product };
  stripe.putSubscription(subscription);
}

/** The ids seedCatalog(…, tag) gives, so a config map can be written before the catalog is seeded. */
export function catalogIds(tag: string): Catalog {
  const id = (value: string) => ({ id: value });
  const keys = ['News', 'Puzzles', 'Cooking', 'Bundle'] as const;
  const of = (prefix: string) => Object.fromEntries(keys.map((k) => [k.toLowerCase(), id(`${prefix}_${tag}${k}`)]));
  return { products: of('prod'), prices: of('price'), features: {} } as unknown as Catalog;
}
