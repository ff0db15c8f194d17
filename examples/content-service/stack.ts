/**
 * Everything the content-gate story needs, on 127.0.0.1 ports: subgate (the real app and workers, wired
 * by the test harness onto a Redis), the local Stripe test double, and the example site using
 * `@subgate/client`. Used by `npm run demo`, the browser test and the content-gate benchmark, so all three
 * play the same story the same way: every change reaches subgate as a signed Stripe webhook (or, for the
 * expiry itself, the delayed card-expiry job that fires at the expiry instant).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEntitlementClient, type EntitlementClient, type EntitlementClientOptions } from '@subgate/client';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';
import type { Logger } from '../../src/logger.js';
import { API_TOKEN, buildAppOn, createHarness, type Harness } from '../../test/support/harness.js';
import { adminDeps } from '../../src/composition.js';
import { finished, promote, replaceCard, seedSubscriber, settleExpiry, type Subscriber } from '../../test/support/card-scenarios.js';
import { waitFor } from '../../test/support/redis.js';
import { failedChargeFixture } from '../../test/fixtures/charges.js';
import { createContentSite } from './site.js';
import type { DemoReader } from './pages.js';

/** The demo's ADMIN_TOKEN: log in at <subgate>/admin with it to read the readers' stories and the funnel. */
export const DEMO_ADMIN_TOKEN = 'demo-admin-token-0123456789';

export const DEMO_READERS: readonly DemoReader[] = [
  { id: 'reader-ada', name: 'Ada', blurb: 'subscribes in the story; her card expires, then she updates it.' },
  { id: 'reader-ben', name: 'Ben', blurb: 'has an account but no subscription.' },
];

/** The card in the story expires at the end of this month (UTC), so the story runs on today's dates. */
export function storyCard(now = Date.now()) {
  const date = new Date(now);
  const exp_month = date.getUTCMonth() + 1;
  const exp_year = date.getUTCFullYear();
  return { exp_month, exp_year, expiresAt: cardExpiresAt(exp_month, exp_year) };
}

export interface ContentGateStack {
  h: Harness;
  subgateUrl: string;
  siteUrl: string;
  client: EntitlementClient;
  /** Ada subscribes: the double gets her customer, card and subscription; subgate hears a signed webhook. */
  subscribe(reader?: string): Promise<Subscriber>;
  /** Her card's expiry instant passes: the delayed job fires, and the first renewal is declined (signed webhook). */
  expireCard(sub: Subscriber): Promise<void>;
  /** She saves a new card in Stripe (what the portal does); optionally subgate hears customer.updated. */
  replaceCard(sub: Subscriber, opts?: { webhook?: boolean }): Promise<void>;
  /** Resolves when subgate answers `status` for the user. */
  waitForStatus(user: string, status: string): Promise<void>;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * subgate's and the site's servers, listening before anything is configured: the update-card links and
 * the portal's way back need their real addresses. Requests are attached by the caller.
 */
export async function openStackServers(): Promise<{ subgateServer: Server; siteServer: Server; subgateUrl: string; siteUrl: string; close(): Promise<void> }> {
  const subgateServer = createServer();
  const siteServer = createServer();
  const [subgateUrl, siteUrl] = await Promise.all([listen(subgateServer), listen(siteServer)]);
  return {
    subgateServer,
    siteServer,
    subgateUrl,
    siteUrl,
    async close() {
      siteServer.closeAllConnections();
      subgateServer.closeAllConnections();
      await Promise.all([new Promise((r) => siteServer.close(r)), new Promise((r) => subgateServer.close(r))]);
    },
  };
}

/** A card's expiry instant passes: the clock moves there and its delayed card-expiry job runs now. */
export async function passCardExpiry(h: Harness, customerId: string, cardId: string, expiresAt: number): Promise<void> {
  h.clock.set(expiresAt);
  const jobId = `expire-${customerId}-${cardId}-${expiresAt}`;
  await promote(h, jobId);
  await finished(h, jobId);
}

export async function startContentGateStack(options: {
  redisUrl: string;
  logger?: Logger;
  client?: Partial<EntitlementClientOptions>;
  eventsHeartbeatMs?: number;
}): Promise<ContentGateStack> {
  const card = storyCard();
  const servers = await openStackServers();
  const { subgateServer, siteServer, subgateUrl, siteUrl } = servers;
  const h = await createHarness({
    label: 'content-gate',
    redisUrl: options.redisUrl,
    clockStart: Date.now(),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.eventsHeartbeatMs ? { eventsHeartbeatMs: options.eventsHeartbeatMs } : {}),
    cardExpiry: { publicBaseUrl: subgateUrl, publisherReturnUrl: `${siteUrl}/account`, noticeDays: [30, 7] },
  });
  // The harness's app, with the operator's pages on top (DEMO_ADMIN_TOKEN).
  subgateServer.on(
    'request',
    buildAppOn(h, {
      admin: adminDeps(h.api, DEMO_ADMIN_TOKEN),
      entitlementEvents: { reader: h.changeReader, ...h.config.feed, ...(options.eventsHeartbeatMs ? { heartbeatMs: options.eventsHeartbeatMs } : {}) },
      ...(options.logger ? { logger: options.logger } : {}),
    }),
  );
  const client = createEntitlementClient({ baseUrl: subgateUrl, token: API_TOKEN, cache: { ttlMs: 10 * 60_000 }, ...options.client });
  siteServer.on('request', createContentSite({ entitlements: client, readers: DEMO_READERS }));

  const statusOf = async (user: string) => (await h.entitlement({ user })).body.status as string;
  const waitForStatus = async (user: string, status: string) => {
    await waitFor(async () => (await statusOf(user)) === status, { timeoutMs: 15_000, message: `${user} to be ${status}` });
  };

  return {
    h,
    subgateUrl,
    siteUrl,
    client,
    waitForStatus,
    async subscribe(reader = 'reader-ada') {
      const sub = await seedSubscriber(h, { exp_month: card.exp_month, exp_year: card.exp_year, last4: '4444', brand: 'visa', user: reader, sync: false });
      const created = h.stripe.makeEvent('customer.subscription.created', h.stripe.getSubscription(sub.subscriptionId)!);
      const res = await h.deliver(created);
      if (res.status !== 200) throw new Error(`webhook refused: ${res.status}`);
      await waitForStatus(reader, 'active');
      await settleExpiry(h);
      return sub;
    },
    async expireCard(sub) {
      await passCardExpiry(h, sub.customerId, sub.pmId, card.expiresAt);
      const decline = h.stripe.makeEvent(
        'charge.failed',
        failedChargeFixture({
          customer: sub.customerId,
          paymentMethod: sub.pmId,
          failureCode: 'expired_card',
          reason: 'expired_card',
          card: { brand: 'visa', last4: '4444', exp_month: card.exp_month, exp_year: card.exp_year },
        }),
      );
      const res = await h.deliver(decline);
      if (res.status !== 200) throw new Error(`webhook refused: ${res.status}`);
      await settleExpiry(h);
    },
    async replaceCard(sub, opts = {}) {
      replaceCard(h, sub.customerId, { exp_month: card.exp_month, exp_year: card.exp_year + 4, last4: '0005' });
      if (opts.webhook ?? true) {
        const res = await h.deliver(h.stripe.makeEvent('customer.updated', h.stripe.getCustomer(sub.customerId)!));
        if (res.status !== 200) throw new Error(`webhook refused: ${res.status}`);
      }
    },
    async close() {
      await client.close();
      await servers.close();
      await h.close();
    },
  };
}
