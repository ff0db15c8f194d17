/**
 * The example site sold by section (News and Puzzles, each its own product in Stripe), with subgate
 * configured to grant features from a map of prices and products (ACCESS_FEATURES_SOURCE=config). The
 * readers: Pia, who has only Puzzles; Nora, whose News subscription is paid by a card that expires at the
 * end of this month while Puzzles is paid by another, valid card. Used by the sections browser test.
 * Every change reaches subgate as a signed webhook, or (the expiry) the delayed card-expiry job.
 */
import { createEntitlementClient, type EntitlementClient } from '@subgate/client';
import { API_TOKEN, createHarness, type Harness } from '../../test/support/harness.js';
import { settleExpiry } from '../../test/support/card-scenarios.js';
import { accessFeaturesFor, catalogIds, seedCatalog, seedMultiReader, type Catalog } from '../../test/support/catalog.js';
import { waitFor } from '../../test/support/redis.js';
import { SECTIONS } from './articles.js';
import { createContentSite } from './site.js';
import type { DemoReader } from './pages.js';
import { openStackServers, passCardExpiry, storyCard } from './stack.js';

export const SECTION_READERS: readonly DemoReader[] = [
  { id: 'reader-pia', name: 'Pia', blurb: 'has Puzzles only.' },
  { id: 'reader-nora', name: 'Nora', blurb: 'has News (its card expires this month) and Puzzles (on another card).' },
];

const TAG = 'site';

export interface SectionsStack {
  h: Harness;
  siteUrl: string;
  client: EntitlementClient;
  /** Pia subscribes to Puzzles. */
  subscribePia(): Promise<void>;
  /** Nora subscribes to News (on the card that expires this month) and to Puzzles (on a valid card). */
  subscribeNora(): Promise<{ customerId: string; newsCard: string }>;
  /** The News card's expiry instant passes: the delayed expiry job fires. */
  expireNoraNewsCard(nora: { customerId: string; newsCard: string }): Promise<void>;
  close(): Promise<void>;
}

export async function startSectionsStack(options: { redisUrl: string }): Promise<SectionsStack> {
  const card = storyCard();
  const servers = await openStackServers();
  const { subgateServer, siteServer, subgateUrl, siteUrl } = servers;
  const h = await createHarness({
    label: 'sections',
    redisUrl: options.redisUrl,
    clockStart: Date.now(),
    cardExpiry: { publicBaseUrl: subgateUrl, publisherReturnUrl: `${siteUrl}/account`, noticeDays: [30, 7] },
    env: { ACCESS_FEATURES_SOURCE: 'config', ACCESS_FEATURES: accessFeaturesFor(catalogIds(TAG)) },
  });
  const catalog: Catalog = seedCatalog(h.stripe, Math.floor(h.clock.now() / 1000), TAG);
  subgateServer.on('request', h.app);
  // A long cache: what the reader sees change arrives by the change feed, per feature.
  const client = createEntitlementClient({ baseUrl: subgateUrl, token: API_TOKEN, cache: { ttlMs: 10 * 60_000 } });
  siteServer.on('request', createContentSite({ entitlements: client, readers: SECTION_READERS, sections: SECTIONS }));

  const nowSeconds = () => Math.floor(h.clock.now() / 1000);
  const announce = async (customerId: string) => {
    for (const subscription of (await h.stripe.client().subscriptions.list({ customer: customerId })).data) {
      const res = await h.deliver(h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(subscription.id)!));
      if (res.status !== 200) throw new Error(`webhook refused: ${res.status}`);
    }
  };
  const waitForFeature = async (user: string, feature: string, status: string) => {
    await waitFor(async () => (await h.entitlement({ user, feature })).body.status === status, { timeoutMs: 15_000, message: `${user}'s ${feature} to be ${status}` });
  };

  return {
    h,
    siteUrl,
    client,
    async subscribePia() {
      const pia = seedMultiReader(h.stripe, { userId: 'reader-pia', nowSeconds: nowSeconds(), subscriptions: [{ price: catalog.prices.puzzles }] });
      await announce(pia.customer.id);
      await waitForFeature('reader-pia', 'puzzles', 'active');
      await settleExpiry(h);
    },
    async subscribeNora() {
      const nora = seedMultiReader(h.stripe, {
        userId: 'reader-nora',
        nowSeconds: nowSeconds(),
        subscriptions: [{ price: catalog.prices.news, exp_month: card.exp_month, exp_year: card.exp_year }, { price: catalog.prices.puzzles }],
      });
      await announce(nora.customer.id);
      await waitForFeature('reader-nora', 'news', 'active');
      await waitForFeature('reader-nora', 'puzzles', 'active');
      await settleExpiry(h);
      return { customerId: nora.customer.id, newsCard: nora.held[0]!.card.id };
    },
    async expireNoraNewsCard(nora) {
      await passCardExpiry(h, nora.customerId, nora.newsCard, card.expiresAt);
      await settleExpiry(h);
    },
    async close() {
      await client.close();
      await servers.close();
      await h.close();
    },
  };
}
