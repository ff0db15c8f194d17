/**
 * One subgate wired for a test file: the real app (driven through supertest), real BullMQ workers on the
 * test Redis under a unique key prefix, and the real Stripe SDK talking to a local Stripe double.
 * close() stops everything and deletes only the keys under that prefix.
 */
import request from 'supertest';
import type { Redis } from 'ioredis';
import { type AppDeps, type SubgateApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createSilentLogger, type Logger } from '../../src/logger.js';
import type { Queues, NoticeRetry } from '../../src/queues.js';
import { createFailFastConnection, createWorkerConnection, waitUntilReady } from '../../src/store/redis-connections.js';
import { createEntitlementChangeReader, type EntitlementChangeReader } from '../../src/store/entitlement-change-reader.js';
import type { EntitlementEventsOptions } from '../../src/http/entitlement-events-route.js';
import type { SubscriberStore } from '../../src/store/subscriber-store.js';
import type { EventLedger } from '../../src/store/event-ledger.js';
import type { StripeGateway } from '../../src/adapters/stripe-gateway.js';
import type { SyncCustomer } from '../../src/sync/customer-sync.js';
import type { WorkerSet } from '../../workers/worker-set.js';
import type { PolicySettings } from '../../src/domain/projection.js';
import type { StripeBilling } from '../../src/adapters/stripe-billing.js';
import { createMailer, type Mailer } from '../../src/adapters/mailer.js';
import type { UpdateCardLinks } from '../../src/billing/update-card-links.js';
import type { PortalSessionBudget } from '../../src/store/billing-link-throttle.js';
import { buildApi, buildServices, buildWorkers, type Services, type Tuning, type Workers } from '../../src/composition.js';
import { cleanupPrefix, testClusterNodes, testRedisUrl, uniquePrefix, waitFor } from './redis.js';
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

/** Card expiry, notices and the update-card link, configured as a publisher would. */
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
  /** More of the environment config.ts reads (features: ACCESS_FEATURES_SOURCE, ACCESS_FEATURES; ADMIN_TOKEN; REDIS_ACK_REPLICAS…), on top of what the options above set. */
  env?: Record<string, string>;
}

export interface Harness {
  prefix: string;
  clock: TestClock;
  stripe: StripeDouble;
  /** The Config both sides were built from (src/config.ts, from the harness's environment). */
  config: Config;
  /** The API side's services, on the fail-fast connection (what the app uses). */
  api: Services;
  /** The worker side's services, on the worker connection (what the workers use). */
  worker: Services;
  /** The worker side's SDK client: the real one, through the request budget, at the double. */
  gateway: StripeGateway;
  apiRedis: Redis;
  workerRedis: Redis;
  /** The worker side's queues. */
  queues: Queues;
  /** The API side's store and ledger. */
  store: SubscriberStore;
  ledger: EventLedger;
  /** The worker side's refresh. */
  syncCustomer: SyncCustomer;
  app: SubgateApp;
  workers: WorkerSet | null;
  /** The worker side's services (card expiry, the feed, notices, recovery, the hook after a write). */
  expiry: Services;
  links: UpdateCardLinks | null;
  /** The API side's Stripe billing calls. */
  billing: StripeBilling;
  mailer: Mailer;
  /** Feeds GET /v1/entitlements/events; its blocking connection opens on the first subscriber. */
  changeReader: EntitlementChangeReader;
  /** Starts another set of workers on the worker side (as another worker process would). */
  startWorkers(overrides?: Partial<Pick<HarnessOptions, 'debounceMs'>>): WorkerSet;
  /** POSTs an event the way Stripe does: signed now with the current secret. */
  deliver(event: { id: string }, opts?: { secret?: string; timestamp?: number }): Promise<request.Response>;
  entitlement(query: Record<string, string>): Promise<request.Response>;
  /** Resolves when no job is waiting, delayed, prioritized or active in either queue. */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The environment a publisher would set for what the options ask, read by the real config module. */
function harnessConfig(options: HarnessOptions, prefix: string, redisUrl: string, stripeUrl: string): Config {
  const ce = options.cardExpiry;
  const policy = options.policy ?? POLICY;
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    STRIPE_SECRET_KEY: 'sk_test_double',
    STRIPE_API_BASE: stripeUrl,
    STRIPE_API_RATE_LIMIT: String(options.stripeRequestsPerSecond ?? 1000),
    STRIPE_WEBHOOK_SECRET: `${WEBHOOK_SECRET},${OLD_WEBHOOK_SECRET}`,
    ENTITLEMENT_API_TOKENS: API_TOKEN,
    SYNC_DEBOUNCE_MS: String(options.debounceMs ?? 20),
    WORKER_CONCURRENCY: '4',
    CARD_EXPIRED_GRACE_DAYS: String(policy.cardExpiredGraceDays),
    PAST_DUE_GRACE_DAYS: String(policy.pastDueGraceDays),
    ENTITLEMENT_STREAM_MAXLEN: '1000',
    NOTICE_FROM: `${PUBLISHER_NAME} <${SUPPORT_EMAIL}>`,
    PUBLISHER_NAME,
    SUPPORT_EMAIL,
    NOTICE_RATE_LIMIT: String(ce?.noticesPerSecond ?? 1000),
    CARD_EXPIRY_NOTICE_DAYS: (ce?.noticeDays ?? [30, 7]).join(','),
    // Without card expiry asked for, a new card is not pushed to Stripe: those tests count Stripe calls.
    NEW_CARD_RECOVERY: String(ce ? (ce.newCardRecovery ?? true) : false),
    ...options.env,
  };
  Object.assign(env, options.env ?? {});
  if (ce) {
    env.LINK_SIGNING_SECRET = LINK_SECRET;
    env.PUBLIC_BASE_URL = ce.publicBaseUrl ?? PUBLIC_BASE_URL;
    env.UPDATE_CARD_LINK_TTL_DAYS = String(ce.linkTtlDays ?? 14);
    const returnUrl = 'publisherReturnUrl' in ce ? ce.publisherReturnUrl : PUBLISHER_RETURN_URL;
    if (returnUrl) env.PUBLISHER_RETURN_URL = returnUrl;
    if (ce.smtpUrl) env.SMTP_URL = ce.smtpUrl;
  }
  const config = loadConfig(env);
  // Budgets in milliseconds a test needs and the environment spells in minutes.
  return ce?.portalSessions ? Object.freeze({ ...config, updateCardSessions: Object.freeze({ ...ce.portalSessions }) }) : config;
}

export async function createHarness(options: HarnessOptions): Promise<Harness> {
  const prefix = uniquePrefix(options.label);
  const clock = createTestClock(options.clockStart ?? Date.now());
  const logger = options.logger ?? createSilentLogger();
  // The suite's cluster (test:cluster) unless the test brings a Redis of its own.
  const clusterNodes = options.redisUrl === undefined ? testClusterNodes() : null;
  const url = options.redisUrl ?? (clusterNodes ? `redis://${clusterNodes.split(',')[0]}` : testRedisUrl());
  const stripe = await startStripeDouble({ now: () => clock.now() });
  const config = harnessConfig({ ...options, env: { ...(clusterNodes ? { REDIS_CLUSTER_NODES: clusterNodes } : {}), ...options.env } }, prefix, url, stripe.url);
  // Made as the entry points make them, from the configuration (a single server or the cluster).
  const apiRedis = createFailFastConnection(config.redis, 'test-api');
  apiRedis.on('error', () => {});
  const workerRedis = createWorkerConnection(config.redis, 'test-worker');
  workerRedis.on('error', () => {});
  await Promise.all([waitUntilReady(apiRedis, 15_000), waitUntilReady(workerRedis, 15_000)]);

  const ce = options.cardExpiry;
  const tuning: Tuning = {
    noticeRetry: ce?.noticeRetry ?? { attempts: 8, backoffMs: 100 },
    stripeMaxNetworkRetries: 0,
    portalPolling: { pollMs: 10, maxPolls: 500 },
    rateLimitBackoffMs: 200,
    resyncRetry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 50 },
  };
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.noticeFrom, logger, timeoutMs: 3000 });
  // Each side on its own connection, as in production; both spend one Stripe budget.
  const api = buildServices(config, { redis: apiRedis, clock, logger }, tuning);
  const worker = buildServices(config, { redis: workerRedis, clock, logger, mailer }, tuning);

  const changeReader = createEntitlementChangeReader({
    redis: apiRedis,
    prefix,
    openBlockingConnection: () => {
      const connection = createWorkerConnection(config.redis, 'test-events');
      connection.on('error', () => {});
      return connection;
    },
  });
  const app = buildApi(api, {
    ping: async () => {
      await apiRedis.ping();
    },
    overrides: {
      entitlementEvents: {
        reader: changeReader,
        ...config.feed,
        ...options.events,
        ...(options.eventsHeartbeatMs ? { heartbeatMs: options.eventsHeartbeatMs } : {}),
      },
      ...options.app,
    },
  });

  const workerSets: Workers[] = [];
  const extraSides: Services[] = [];
  const harness: Harness = {
    prefix,
    clock,
    stripe,
    config,
    api,
    worker,
    gateway: worker.gateway,
    apiRedis,
    workerRedis,
    queues: worker.queues,
    store: api.store,
    ledger: api.ledger,
    syncCustomer: worker.syncCustomer,
    app,
    workers: null,
    expiry: worker,
    links: api.links,
    billing: api.billing,
    mailer,
    changeReader,
    startWorkers(overrides = {}) {
      const side =
        overrides.debounceMs === undefined
          ? worker
          : buildServices(Object.freeze({ ...config, syncDebounceMs: overrides.debounceMs }), { redis: workerRedis, clock, logger, mailer }, tuning);
      if (side !== worker) extraSides.push(side);
      // The operations workers are the ops harness's to start (some tests want none).
      const set = buildWorkers(side, { tuning, operations: false });
      workerSets.push(set);
      harness.workers ??= set.workers;
      return set.workers;
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
            worker.queues.stripeEvents.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'waiting-children'),
            worker.queues.customerSync.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'waiting-children'),
          ]);
          return Object.values(events).every((n) => n === 0) && Object.values(syncs).every((n) => n === 0);
        },
        { timeoutMs, message: 'queues to drain' },
      );
    },
    async close() {
      await changeReader.close();
      await Promise.all(workerSets.map((set) => set.close()));
      await Promise.allSettled([api.close(), worker.close(), ...extraSides.map((side) => side.close())]);
      mailer.close();
      await cleanupPrefix(workerRedis, prefix).catch(() => undefined);
      await Promise.allSettled([apiRedis.quit(), workerRedis.quit(), stripe.close()]);
    },
  };
  if (options.workers !== false) harness.startWorkers();
  return harness;
}

/** Another app over this harness's API side (a second API process, or one wired differently). */
export function buildAppOn(h: Harness, deps: Partial<AppDeps>): SubgateApp {
  return buildApi(h.api, { ping: async () => undefined, overrides: { logger: createSilentLogger(), ...deps } });
}
