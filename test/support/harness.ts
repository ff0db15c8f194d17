/**
 * One subgate wired for a test file: the real app (driven through supertest), real BullMQ workers on the
 * test Redis under a unique key prefix, and the real Stripe SDK talking to a local Stripe double.
 * close() stops everything and deletes only the keys under that prefix.
 */
import request from 'supertest';
import type { Redis } from 'ioredis';
import type Stripe from 'stripe';
import { buildApp, type AppDeps } from '../../src/app.js';
import { createSilentLogger, type Logger } from '../../src/logger.js';
import { createQueues, type Queues } from '../../src/queues.js';
import { createFailFastConnection, createWorkerConnection, waitUntilReady } from '../../src/store/redis-connections.js';
import { createEntitlementChangeReader, type EntitlementChangeReader } from '../../src/store/entitlement-change-reader.js';
import type { EntitlementEventsOptions } from '../../src/http/entitlement-events-route.js';
import { createSubscriberStore, type SubscriberStore } from '../../src/store/subscriber-store.js';
import { createEventLedger, type EventLedger } from '../../src/store/event-ledger.js';
import { createStripeClient, createStripeGateway, type StripeGateway } from '../../src/adapters/stripe-gateway.js';
import { createStripeRequestBudget } from '../../src/store/stripe-request-budget.js';
import { createCustomerSync, type SyncCustomer } from '../../src/sync/customer-sync.js';
import { createWorkerSet, type WorkerSet } from '../../workers/worker-set.js';
import type { PolicySettings } from '../../src/domain/projection.js';
import type { NoticeRetry } from '../../src/queues.js';
import { createStripeBilling, type StripeBilling } from '../../src/adapters/stripe-billing.js';
import { createMailer, type Mailer } from '../../src/adapters/mailer.js';
import { createUpdateCardLinks, createUpdateCardUrlFor, type UpdateCardLinks } from '../../src/billing/update-card-links.js';
import { createPortalSessionStore, createReturnThrottle, type PortalSessionBudget } from '../../src/store/billing-link-throttle.js';
import { createPortalSessionOpener } from '../../src/billing/portal-sessions.js';
import { createAccessRestorer } from '../../src/billing/restore-access.js';
import { createExpiryComponents, type ExpiryComponents } from '../../src/expiry/expiry-components.js';
import { cleanupPrefix, testRedisUrl, uniquePrefix, waitFor } from './redis.js';
import { startStripeDouble, type StripeDouble } from './stripe-double.js';
import { createTestClock, type TestClock } from './test-clock.js';

export const WEBHOOK_SECRET = 'whsec_harness_current_0001';
export const OLD_WEBHOOK_SECRET = 'whsec_harness_previous_0001';
export const API_TOKEN = 'harness-content-service-token';
export const POLICY = { cardExpiredGraceDays: 0, pastDueGraceDays: 7 };
export const LINK_SECRET = 'harness-link-signing-secret-0123456789abcdef';
export const PUBLIC_BASE_URL = 'http://subgate.test';
export const PUBLISHER_RETURN_URL = 'https://publisher.test/account';
export const PUBLISHER_NAME = 'The Harness Gazette';
export const SUPPORT_EMAIL = 'help@gazette.test';
/** The portal session budget config.ts defaults to. */
export const PORTAL_SESSIONS: PortalSessionBudget = { limit: 3, windowMs: 10 * 60_000, reuseMs: 240_000 };

/** Card expiry, notices and the update-card link (issue 3), wired as in production. */
export interface CardExpiryHarnessOptions {
  /** An SMTP sink's URL; without it the log transport is used. */
  smtpUrl?: string;
  noticeDays?: number[];
  newCardRecovery?: boolean;
  publisherReturnUrl?: string | undefined;
  noticeRetry?: NoticeRetry;
  noticesPerSecond?: number;
  linkTtlDays?: number;
  /** Base of update-card links (default PUBLIC_BASE_URL); a real listening address for browser tests. */
  publicBaseUrl?: string;
  /** Portal sessions per customer (default: config's defaults, 3 per 10 minutes, each reused 4 minutes). */
  portalSessions?: PortalSessionBudget;
}

export interface HarnessOptions {
  label: string;
  /** Start the BullMQ workers (default true). */
  workers?: boolean;
  debounceMs?: number;
  /** The Stripe request budget both sides share (STRIPE_API_RATE_LIMIT); default 1000. */
  stripeRequestsPerSecond?: number;
  clockStart?: number | Date | string;
  logger?: Logger;
  redisUrl?: string;
  policy?: PolicySettings;
  cardExpiry?: CardExpiryHarnessOptions;
  /** Keep-alive interval of GET /v1/entitlements/events (default 15 s). */
  eventsHeartbeatMs?: number;
  /** Replaces parts of the app's deps (scoped tokens, metrics); the default token is API_TOKEN, a bare one. */
  app?: Partial<Omit<AppDeps, 'billing'>>;
  /** Replay and connection limits of GET /v1/entitlements/events (the route's defaults otherwise). */
  events?: EntitlementEventsOptions;
}

export interface Harness {
  prefix: string;
  clock: TestClock;
  stripe: StripeDouble;
  /** The worker side's SDK client: the real one, through the request budget, at the double. */
  stripeClient: Stripe;
  gateway: StripeGateway;
  apiRedis: Redis;
  workerRedis: Redis;
  queues: Queues;
  store: SubscriberStore;
  ledger: EventLedger;
  syncCustomer: SyncCustomer;
  app: ReturnType<typeof buildApp>;
  workers: WorkerSet | null;
  /** The worker side's card-expiry parts (null unless `cardExpiry` was given). */
  expiry: ExpiryComponents | null;
  links: UpdateCardLinks | null;
  billing: StripeBilling | null;
  mailer: Mailer | null;
  /** Feeds GET /v1/entitlements/events; its blocking connection opens on the first subscriber. */
  changeReader: EntitlementChangeReader;
  startWorkers(overrides?: Partial<Pick<HarnessOptions, 'debounceMs'>>): WorkerSet;
  /** POSTs an event the way Stripe does: signed now with the current secret. */
  deliver(event: { id: string }, opts?: { secret?: string; timestamp?: number }): Promise<request.Response>;
  entitlement(query: Record<string, string>): Promise<request.Response>;
  /** Resolves when no job is waiting, delayed, prioritized or active in either queue. */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function createHarness(options: HarnessOptions): Promise<Harness> {
  const prefix = uniquePrefix(options.label);
  const clock = createTestClock(options.clockStart ?? Date.now());
  const logger = options.logger ?? createSilentLogger();
  const url = options.redisUrl ?? testRedisUrl();
  const stripe = await startStripeDouble({ now: () => clock.now() });
  const apiRedis = createFailFastConnection(url, 'test-api');
  apiRedis.on('error', () => {});
  const workerRedis = createWorkerConnection(url, 'test-worker');
  workerRedis.on('error', () => {});
  await Promise.all([waitUntilReady(apiRedis), waitUntilReady(workerRedis)]);

  const apiQueues = createQueues(apiRedis, prefix);
  const queues = createQueues(workerRedis, prefix);
  const store = createSubscriberStore({ redis: apiRedis, prefix });
  const ledger = createEventLedger({ redis: apiRedis, prefix });
  // Each side's client on its own connection, as in production; both spend one budget.
  const stripeClientOn = (redis: Redis) =>
    createStripeClient({
      secretKey: 'sk_test_double',
      apiBase: stripe.url,
      maxNetworkRetries: 0,
      budget: createStripeRequestBudget({ redis, prefix, requestsPerSecond: options.stripeRequestsPerSecond ?? 1000 }),
    });
  const stripeClient = stripeClientOn(workerRedis);
  const apiStripeClient = stripeClientOn(apiRedis);
  const gateway = createStripeGateway(stripeClient);
  const workerStore = createSubscriberStore({ redis: workerRedis, prefix });
  const policy = options.policy ?? POLICY;

  const ce = options.cardExpiry;
  const workerBilling = ce ? createStripeBilling(stripeClient) : null;
  const billing = ce ? createStripeBilling(apiStripeClient) : null;
  const links = ce
    ? createUpdateCardLinks({ secret: LINK_SECRET, publicBaseUrl: ce.publicBaseUrl ?? PUBLIC_BASE_URL, ttlDays: ce.linkTtlDays ?? 14, clock })
    : null;
  const mailer = ce ? createMailer({ smtpUrl: ce.smtpUrl, from: `${PUBLISHER_NAME} <${SUPPORT_EMAIL}>`, logger, timeoutMs: 3000 }) : null;
  const expiryFor = (redis: Redis, side: Queues, store: SubscriberStore, withMailer: boolean) =>
    createExpiryComponents({
      redis,
      prefix,
      queues: side,
      store,
      billing: (withMailer ? workerBilling : billing)!,
      clock,
      logger,
      policy,
      noticeDays: ce?.noticeDays ?? [30, 7],
      debounceMs: options.debounceMs ?? 20,
      links,
      publisherName: PUBLISHER_NAME,
      supportEmail: SUPPORT_EMAIL,
      newCardRecovery: ce?.newCardRecovery ?? true,
      streamMaxLength: 1000,
      noticeRetry: ce?.noticeRetry ?? { attempts: 8, backoffMs: 100 },
      ...(withMailer && mailer ? { mailer } : {}),
    });
  const expiry = ce ? expiryFor(workerRedis, queues, workerStore, true) : null;
  const apiExpiry = ce ? expiryFor(apiRedis, apiQueues, store, false) : null;
  const syncCustomer = createCustomerSync({
    stripe: gateway,
    store: workerStore,
    clock,
    userIdMetadataKey: 'user_id',
    logger,
    ...(expiry ? { afterWrite: expiry.afterWrite } : {}),
  });
  const apiSyncCustomer = createCustomerSync({
    stripe: createStripeGateway(apiStripeClient),
    store,
    clock,
    userIdMetadataKey: 'user_id',
    logger,
    ...(apiExpiry ? { afterWrite: apiExpiry.afterWriteWithoutRecovery } : {}),
  });

  const changeReader = createEntitlementChangeReader({
    redis: apiRedis,
    prefix,
    openBlockingConnection: () => {
      const connection = createWorkerConnection(url, 'test-events');
      connection.on('error', () => {});
      return connection;
    },
  });
  const app = buildApp({
    entitlementEvents: { reader: changeReader, ...options.events, ...(options.eventsHeartbeatMs ? { heartbeatMs: options.eventsHeartbeatMs } : {}) },
    store,
    ledger,
    queues: apiQueues,
    clock,
    logger,
    ping: async () => {
      await apiRedis.ping();
    },
    webhookSecrets: [WEBHOOK_SECRET, OLD_WEBHOOK_SECRET],
    entitlementTokens: [API_TOKEN],
    policy,
    ...(links && apiExpiry && billing
      ? {
          updateCardUrlFor: createUpdateCardUrlFor(links, clock, ce?.noticeDays ?? [30, 7]),
          billing: {
            links,
            openPortal: createPortalSessionOpener({
              portal: billing,
              sessions: createPortalSessionStore({ redis: apiRedis, prefix, clock, ...(ce?.portalSessions ?? PORTAL_SESSIONS) }),
              pollMs: 10,
              maxPolls: 500,
            }),
            restoreAccess: createAccessRestorer({
              syncCustomer: apiSyncCustomer,
              store,
              recovery: apiExpiry.recovery,
              throttle: createReturnThrottle({ redis: apiRedis, prefix, clock }),
            }),
            publisherReturnUrl: ce && 'publisherReturnUrl' in ce ? ce.publisherReturnUrl : PUBLISHER_RETURN_URL,
            publisherName: PUBLISHER_NAME,
            supportEmail: SUPPORT_EMAIL,
            logger,
          },
        }
      : {}),
    ...options.app,
  });

  const workerLedger = createEventLedger({ redis: workerRedis, prefix });
  const workerSets: WorkerSet[] = [];
  const harness: Harness = {
    prefix,
    clock,
    stripe,
    stripeClient,
    gateway,
    apiRedis,
    workerRedis,
    queues,
    store,
    ledger,
    syncCustomer,
    app,
    workers: null,
    expiry,
    links,
    billing,
    mailer,
    changeReader,
    startWorkers(overrides = {}) {
      const set = createWorkerSet({
        connection: workerRedis,
        prefix,
        queues,
        ledger: workerLedger,
        syncCustomer,
        clock,
        logger,
        debounceMs: overrides.debounceMs ?? options.debounceMs ?? 20,
        concurrency: 4,
        rateLimitBackoffMs: 200,
        ...(expiry
          ? {
              cardExpiry: {
                service: expiry.service,
                sweep: expiry.sweep,
                noticeSender: expiry.noticeSender!,
                noticesPerSecond: ce?.noticesPerSecond ?? 1000,
              },
            }
          : {}),
      });
      workerSets.push(set);
      harness.workers ??= set;
      return set;
    },
    deliver(event, opts = {}) {
      const { payload, header } = stripe.sign(event as never, opts.secret ?? WEBHOOK_SECRET, {
        timestamp: opts.timestamp ?? Math.floor(clock.now() / 1000),
      });
      return request(app).post('/webhooks/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', header).send(payload);
    },
    entitlement(query) {
      return request(app).get('/v1/entitlements').query(query).set('Authorization', `Bearer ${API_TOKEN}`);
    },
    async settle(timeoutMs = 10_000) {
      await waitFor(
        async () => {
          const [events, syncs] = await Promise.all([
            queues.stripeEvents.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'waiting-children'),
            queues.customerSync.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'waiting-children'),
          ]);
          return Object.values(events).every((n) => n === 0) && Object.values(syncs).every((n) => n === 0);
        },
        { timeoutMs, message: 'queues to drain' },
      );
    },
    async close() {
      await changeReader.close();
      await Promise.all(workerSets.map((set) => set.close()));
      await Promise.allSettled([apiQueues.close(), queues.close()]);
      mailer?.close();
      await cleanupPrefix(workerRedis, prefix).catch(() => undefined);
      await Promise.allSettled([apiRedis.quit(), workerRedis.quit(), stripe.close()]);
    },
  };
  if (options.workers !== false) harness.startWorkers();
  return harness;
}

/** Another app over this harness's store, ledger and queues (a second API process, or one wired differently). */
export function buildAppOn(h: Harness, deps: Partial<AppDeps>): ReturnType<typeof buildApp> {
  return buildApp({
    store: h.store,
    ledger: h.ledger,
    queues: h.queues,
    clock: h.clock,
    logger: createSilentLogger(),
    ping: async () => undefined,
    webhookSecrets: [WEBHOOK_SECRET],
    entitlementTokens: [API_TOKEN],
    policy: POLICY,
    ...deps,
  });
}
