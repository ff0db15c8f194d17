/**
 * The one place subgate is built from Config. buildServices() wires every service of one side (the API,
 * a worker process, the resync CLI) on that side's Redis connection; buildApi() and buildWorkers() put
 * the doors on top; openApiSide(), openWorkerSide() and openResync() add the clients a real process opens
 * (connections, the mailer) so the three entry points only say what differs between them: which side
 * they run, how they listen, how they shut down. The test harness builds with the same functions, on its
 * own connections and clock, so tests exercise this wiring and not a copy of it.
 */
import type { Redis } from 'ioredis';
import type Stripe from 'stripe';
import type { Queue } from 'bullmq';
import type { Config } from './config.js';
import { createRepeatLimiter, type Logger } from './logger.js';
import type { Clock } from './domain/projection.js';
import { buildApp, type AppDeps, type SubgateApp } from './app.js';
import type { Express } from 'express';
import { buildMetricsApp } from './http/metrics-app.js';
import type { GrantsRouteDeps } from './http/grants-route.js';
import { WEBHOOK_REDIS_DEADLINE_MS } from './http/webhook-route.js';
import {
  createOpsQueues,
  createProducers,
  createQueues,
  upsertEventRecovery,
  upsertExpirySweep,
  type NoticeRetry,
  type OpsQueues,
  type Producers,
  type Queues,
} from './queues.js';
import { createFailFastConnection, createWorkerConnection, waitForRedis, waitUntilReady } from './store/redis-connections.js';
import { createSubscriberStore, type SubscriberStore } from './store/subscriber-store.js';
import { createEventLedger, type EventLedger } from './store/event-ledger.js';
import { createReplicaAck } from './store/replica-ack.js';
import { createNoticeLedger, type NoticeLedger } from './store/notice-ledger.js';
import { createEntitlementFeed, type EntitlementFeed } from './store/entitlement-feed.js';
import { createEntitlementChangeReader, type EntitlementChangeReader } from './store/entitlement-change-reader.js';
import { createStripeRequestBudget } from './store/stripe-request-budget.js';
import { createPortalSessionStore, createReturnThrottle } from './store/billing-link-throttle.js';
import { createResyncStore, type ResyncStore } from './store/resync-store.js';
import { createEventRecoveryStore, type EventRecoveryStore } from './store/event-recovery-store.js';
import { createAdminSessionStore, type AdminSessionStore } from './store/admin-sessions.js';
import { createCustomerTimeline, type CustomerTimeline } from './store/customer-timeline.js';
import { createEmailIndex, type EmailIndex } from './store/email-index.js';
import { createRecoveryFunnelStore, type RecoveryFunnelStore } from './store/recovery-funnel.js';
import { createCustomerStory, type CustomerStory } from './flows/customer-story.js';
import { attachJobStory, withStoryGrants, withStoryPortal, withStoryReturn, withStoryWatch } from './flows/story-hooks.js';
import type { AdminRouteDeps } from './http/admin-route.js';
import { createStripeClient, createStripeGateway, type StripeGateway } from './adapters/stripe-gateway.js';
import { createStripeBilling, type StripeBilling } from './adapters/stripe-billing.js';
import { createStripeLists } from './adapters/stripe-lists.js';
import { createMailer, type Mailer } from './adapters/mailer.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { instrumentWorkers } from './metrics/worker-metrics.js';
import { createUpdateCardLinks, createUpdateCardUrlFor, type UpdateCardLinks } from './billing/update-card-links.js';
import { createCardRecovery, type CardRecovery } from './billing/card-recovery.js';
import { createPortalSessionOpener, type OpenPortalSession } from './billing/portal-sessions.js';
import { createNoticeSender, type NoticeSender } from './notices/notice-sender.js';
import { createEntitlementWatch, type EntitlementWatch } from './sync/entitlement-watch.js';
import { createSnapshotWriter, type AfterWrite, type WriteSnapshot } from './sync/snapshot-writer.js';
import { createCustomerSync, type SyncCustomer } from './sync/customer-sync.js';
import { createProductCatalog, type ProductCatalog } from './sync/product-catalog.js';
import { createProductCatalogStore } from './store/product-catalog-store.js';
import { createGrantStore, grantKeys, type GrantStore } from './store/grant-store.js';
import { createEventAcceptor, type AcceptEvent } from './sync/accept-event.js';
import { createExpiryScheduler, type ExpiryScheduler } from './expiry/expiry-scheduler.js';
import { createCardExpiryService, type CardExpiryService } from './expiry/card-expiry-service.js';
import { createExpirySweep, type ExpirySweep } from './expiry/expiry-sweep.js';
import { createResyncRunner, type ResyncRetry, type RunResync } from './operations/resync-runner.js';
import { createEventRecovery, type RecoverEvents } from './operations/event-recovery.js';
import { createAfterWrite } from './flows/after-write.js';
import { createGrantChanges, type GrantChanges } from './flows/grant-changes.js';
import { createAccessRestorer, type RestoreAccess } from './flows/restore-access.js';
import { drainLimits, type ShutdownStep } from './drain.js';
import { systemClock } from './runtime.js';
import { tracedMethods, withSpan } from './tracing.js';
import { createOpsWorkers, createWorkerSet, type OpsWorkers, type WorkerSet } from '../workers/worker-set.js';

/** What one side brings: its Redis connection, the clock, the logger; the worker side also its mailer. */
export interface SideClients {
  redis: Redis;
  clock: Clock;
  logger: Logger;
  /** Where notices are sent from (the worker side); without it no notice sender is built. */
  mailer?: Mailer;
  /** A stand-in for Stripe's billing calls (the expiry-sweep bench's in-process stub); else the real SDK's. */
  billing?: StripeBilling;
}

/** Knobs no operator needs and the test harness turns (shorter backoffs); production runs the defaults. */
export interface Tuning {
  noticeRetry?: NoticeRetry;
  /** The SDK's own network retries (default 1; the harness wants every request visible). */
  stripeMaxNetworkRetries?: number;
  portalPolling?: { pollMs: number; maxPolls: number };
  rateLimitBackoffMs?: number;
  resyncRetry?: ResyncRetry;
}

export interface Services {
  config: Config;
  clock: Clock;
  logger: Logger;
  redis: Redis;
  queues: Queues;
  opsQueues: OpsQueues;
  producers: Producers;
  store: SubscriberStore;
  ledger: EventLedger;
  noticeLedger: NoticeLedger;
  feed: EntitlementFeed;
  /** Manual grants (subgate's own data). */
  grants: GrantStore;
  /** The SDK client, through the shared request budget. */
  stripe: Stripe;
  gateway: StripeGateway;
  billing: StripeBilling;
  links: UpdateCardLinks | null;
  watch: EntitlementWatch;
  scheduler: ExpiryScheduler;
  recovery: CardRecovery;
  /** The hook after a write that won: card-expiry plan, a new card made to count, the entitlement published. */
  afterWrite: AfterWrite;
  writeSnapshot: WriteSnapshot;
  syncCustomer: SyncCustomer;
  /** Product names and (with ACCESS_FEATURES_SOURCE=stripe) features; null without feature configuration. */
  catalog: ProductCatalog | null;
  acceptEvent: AcceptEvent;
  cardExpiry: CardExpiryService;
  sweep: ExpirySweep;
  noticeSender: NoticeSender | null;
  runResync: RunResync;
  recoverEvents: RecoverEvents;
  resyncStore: ResyncStore;
  eventRecoveryStore: EventRecoveryStore;
  restoreAccess: RestoreAccess;
  /** A grant made, revoked or ended: its feed entries and its end job. */
  grantChanges: GrantChanges;
  openPortal: OpenPortalSession;
  /** Each reader's bounded timeline (the admin customer page); `story.record` adds to it. */
  timeline: CustomerTimeline;
  emailIndex: EmailIndex;
  funnel: RecoveryFunnelStore;
  /** Writes the timeline, the e-mail index and the recovery funnel as things happen. */
  story: CustomerStory;
  /** Browser sessions of /admin (logins, CSRF tokens, failed-login counts). */
  adminSessions: AdminSessionStore;
  /** Every queue this side holds, for metrics and Bull Board. */
  allQueues: Queue[];
  /** Closes this side's queues (not its connection, which its opener owns). */
  close(): Promise<void>;
}

export function buildServices(config: Config, clients: SideClients, tuning: Tuning = {}): Services {
  const { redis, clock, logger } = clients;
  const prefix = config.redisKeyPrefix;
  const queues = createQueues(redis, prefix);
  const opsQueues = createOpsQueues(redis, prefix);
  const producers = createProducers({
    queues,
    opsQueues,
    clock,
    debounceMs: config.syncDebounceMs,
    ...(tuning.noticeRetry ? { noticeRetry: tuning.noticeRetry } : {}),
  });
  const store = createSubscriberStore({ redis, prefix });
  const ledger = createEventLedger({ redis, prefix });
  const noticeLedger = createNoticeLedger({ redis, prefix });
  // Spans when tracing is on (a boolean check each call when it is off).
  const defaultFeature = config.policy.features?.defaultFeature ?? 'content';
  const feed = tracedMethods(createEntitlementFeed({ redis, prefix, maxLength: config.entitlementStreamMaxLength, defaultFeature }), 'entitlement feed', ['publishIfChanged', 'publishFeatures'], 'producer');
  const grants = createGrantStore({ redis, prefix });

  // Every Stripe request of every process on this Redis spends one budget (STRIPE_API_RATE_LIMIT).
  const stripe = createStripeClient({
    secretKey: config.stripe.secretKey,
    apiBase: config.stripe.apiBase,
    budget: createStripeRequestBudget({ redis, prefix, requestsPerSecond: config.stripe.rateLimitPerSecond }),
    ...(tuning.stripeMaxNetworkRetries !== undefined ? { maxNetworkRetries: tuning.stripeMaxNetworkRetries } : {}),
  });
  const gateway = tracedMethods(createStripeGateway(stripe), 'stripe', ['fetchCustomer', 'listSubscriptions', 'readCustomer', 'fetchPaymentMethod']);
  const billing = tracedMethods(clients.billing ?? createStripeBilling(stripe), 'stripe', [
    'fetchCard',
    'fetchCharge',
    'fetchInvoicePayments',
    'createPortalSession',
    'setSubscriptionCard',
    'listOpenInvoices',
    'payInvoice',
  ]);
  const links = config.linkSigningSecret
    ? createUpdateCardLinks({ secret: config.linkSigningSecret, publicBaseUrl: config.publicBaseUrl, ttlDays: config.updateCardLinkTtlDays, clock })
    : null;

  const timeline = createCustomerTimeline({ redis, prefix, clock, ...config.timeline });
  const emailIndex = createEmailIndex({ redis, prefix });
  const funnel = createRecoveryFunnelStore({ redis, prefix });
  const story = createCustomerStory({ timeline, emailIndex, funnel, clock, logger });
  const watch = withStoryWatch(createEntitlementWatch({ store, feed, clock, policy: config.policy, notices: producers, grants }), story);
  const scheduler = createExpiryScheduler({
    producers,
    clock,
    noticeDays: config.cardExpiryNoticeDays,
    graceDays: config.policy.cardExpiredGraceDays,
    pastDueGraceDays: config.policy.pastDueGraceDays,
  });
  const recovery = createCardRecovery({ billing, enabled: config.newCardRecovery, clock, logger });
  const afterWrite = createAfterWrite({ scheduler, watch, recovery, producers, story });
  const writeGuarded = createSnapshotWriter({ store, afterWrite });
  const writeSnapshot: WriteSnapshot = (next, previous, order) =>
    withSpan('projection write', { 'subgate.customer': next.customer }, () => writeGuarded(next, previous, order));
  const featureSource = config.policy.features?.source ?? 'none';
  // Without feature configuration nothing reads products: a refresh costs exactly the Stripe calls it did.
  const catalog =
    featureSource === 'none'
      ? null
      : createProductCatalog({
          store: createProductCatalogStore({ redis, prefix }),
          stripe: gateway,
          clock,
          ttlMs: config.productFeaturesTtlMs,
          withFeatures: featureSource === 'stripe',
          logger,
        });
  const syncCustomer = createCustomerSync({ stripe: gateway, store, clock, userIdMetadataKey: config.userIdMetadataKey, logger, writeSnapshot, catalog });
  const acceptEvent = createEventAcceptor({
    ledger,
    producers,
    ...(config.redis.ackReplicas > 0 ? { replicaAck: createReplicaAck({ redis, replicas: config.redis.ackReplicas, timeoutMs: config.redis.ackTimeoutMs }) } : {}),
    onConfirmFailed: (eventId, err) => logger.warn({ eventId, reason: err instanceof Error ? err.message : String(err) }, 'event queued; its ledger confirmation failed (the next delivery re-enqueues it)'),
  });

  const lists = createStripeLists(stripe);
  const resyncStore = createResyncStore({ redis, prefix });
  const eventRecoveryStore = createEventRecoveryStore({ redis, prefix });

  // The update-card return applies the new card itself, so its refresh runs the hook without recovery.
  const syncWithoutRecovery = createCustomerSync({
    stripe: gateway,
    store,
    clock,
    userIdMetadataKey: config.userIdMetadataKey,
    logger,
    writeSnapshot: createSnapshotWriter({ store, afterWrite: createAfterWrite({ scheduler, watch, recovery: null, producers, story }) }),
    catalog,
  });

  return {
    config,
    clock,
    logger,
    redis,
    queues,
    opsQueues,
    producers,
    store,
    ledger,
    noticeLedger,
    feed,
    grants,
    stripe,
    gateway,
    billing,
    links,
    watch,
    scheduler,
    recovery,
    afterWrite,
    writeSnapshot,
    syncCustomer,
    catalog,
    acceptEvent,
    cardExpiry: createCardExpiryService({ store, billing, scheduler, watch, producers, clock, noticeDays: config.cardExpiryNoticeDays, logger }),
    sweep: createExpirySweep({ store, scheduler, clock, logger }),
    noticeSender: clients.mailer
      ? createNoticeSender({
          ledger: noticeLedger,
          mailer: tracedMethods(clients.mailer, 'smtp', ['send']),
          store,
          links,
          clock,
          publisherName: config.publisherName,
          supportEmail: config.supportEmail,
          logger,
        })
      : null,
    runResync: createResyncRunner({
      source: lists,
      store,
      writeSnapshot,
      checkpoints: resyncStore,
      clock,
      logger,
      userIdMetadataKey: config.userIdMetadataKey,
      requestsPerSecond: config.stripe.rateLimitPerSecond,
      catalog,
      ...(tuning.resyncRetry ? { retry: tuning.resyncRetry } : {}),
    }),
    recoverEvents: createEventRecovery({ source: lists, acceptEvent, checkpoints: eventRecoveryStore, clock, logger }),
    resyncStore,
    eventRecoveryStore,
    grantChanges: withStoryGrants(createGrantChanges({ grants, store, watch, producers, clock }), story, async (grant) =>
      grant.customer !== null ? [grant.customer] : (await store.readByUser(grant.user!)).map((p) => p.customer),
    ),
    restoreAccess: withStoryReturn(
      createAccessRestorer({
        syncCustomer: syncWithoutRecovery,
        store,
        recovery,
        throttle: createReturnThrottle({ redis, prefix, clock }),
      }),
      story,
    ),
    openPortal: withStoryPortal(
      createPortalSessionOpener({
        portal: billing,
        sessions: createPortalSessionStore({ redis, prefix, clock, ...config.updateCardSessions }),
        ...(tuning.portalPolling ?? {}),
      }),
      story,
    ),
    timeline,
    emailIndex,
    funnel,
    story,
    adminSessions: createAdminSessionStore({
      redis,
      prefix,
      clock,
      ttlMs: config.adminSessions.ttlMs,
      loginWindowMs: config.adminSessions.loginWindowMs,
    }),
    allQueues: [queues.stripeEvents, queues.customerSync, queues.cardExpiry, queues.notices, opsQueues.resync, opsQueues.eventRecovery] as Queue[],
    async close() {
      await Promise.allSettled([queues.close(), opsQueues.close()]);
    },
  };
}

/** Prometheus metrics of one process; queue depths and outcome counters are read from Redis, so any process shows all. */
export function buildMetrics(services: Services, options: { defaultMetrics: boolean; collectEveryMs?: number }): Metrics {
  const metrics = createMetrics({
    clock: services.clock,
    queues: services.allQueues,
    eventCounts: () => services.ledger.counts(),
    noticeCounts: () => services.noticeLedger.counts(),
    defaultMetrics: options.defaultMetrics,
    ...(options.collectEveryMs !== undefined ? { collectEveryMs: options.collectEveryMs } : {}),
  });
  attachSideMetrics(services, metrics);
  return metrics;
}

/** The /admin routes' deps for this side and admin token: the JSON views, Bull Board, the browser pages. */
export function adminDeps(services: Services, adminToken: string): AdminRouteDeps {
  const { config } = services;
  return {
    adminToken,
    store: services.store,
    clock: services.clock,
    policy: config.policy,
    opsQueues: services.opsQueues,
    queues: services.queues,
    producers: services.producers,
    grants: buildGrantsRouteDeps(services),
    browser: {
      sessions: services.adminSessions,
      publicBaseUrl: config.publicBaseUrl,
      maxLoginFailures: config.adminSessions.maxLoginFailures,
      sessionTtlMs: config.adminSessions.ttlMs,
      timeline: services.timeline,
      emailIndex: services.emailIndex,
      funnel: services.funnel,
      requestRefresh: (customerId) => services.producers.refresh(customerId, 'admin', 'access'),
    },
  };
}

const attached = new WeakMap<Services, Set<Metrics>>();

/**
 * Feeds a process's metrics from one side's services: its funnel steps and its Stripe responses. Once per
 * (side, metrics), however often it is asked (the worker process builds its metrics from the side it runs).
 */
function attachSideMetrics(services: Services, metrics: Metrics): void {
  const done = attached.get(services) ?? new Set<Metrics>();
  if (done.has(metrics)) return;
  done.add(metrics);
  attached.set(services, done);
  services.story.onFunnelStep(metrics.recordFunnelStep);
  services.stripe.on('response', (event: { method?: string; path?: string; status?: number; elapsed?: number }) => {
    // `/v1/customers/cus_…/…` -> `customers`: ids never become label values.
    const resource = /^\/v1\/([a-z_]+)/.exec(event.path ?? '')?.[1] ?? 'other';
    metrics.recordStripeResponse(event.method ?? 'GET', resource, event.status ?? 0, (event.elapsed ?? 0) / 1000);
  });
}

/** What /admin/grants needs: the grant store, its feed and end job, and the features a grant may name. */
export function buildGrantsRouteDeps(services: Services): GrantsRouteDeps {
  const { config } = services;
  return {
    grants: services.grants,
    changes: services.grantChanges,
    clock: services.clock,
    knownFeatures: async () => {
      const features = config.policy.features;
      const known = new Set([features?.defaultFeature ?? 'content', ...Object.values(features?.map ?? {}).flat()]);
      if (services.catalog && features?.source === 'stripe') for (const f of await services.catalog.knownFeatures()) known.add(f);
      return known;
    },
  };
}

/** The HTTP app of the API side. `overrides` replaces deps (tests: a scoped token, a heartbeat). */
export function buildApi(
  services: Services,
  parts: { ping: () => Promise<void>; changeReader?: EntitlementChangeReader; metrics?: Metrics; overrides?: Partial<AppDeps> },
): SubgateApp {
  const { config, store, clock, logger, links } = services;
  return buildApp({
    store,
    grantKeys: grantKeys(config.redisKeyPrefix),
    acceptEvent: services.acceptEvent,
    ...(config.redis.ackReplicas > 0 ? { webhookRedisDeadlineMs: WEBHOOK_REDIS_DEADLINE_MS + config.redis.ackTimeoutMs } : {}),
    clock,
    logger,
    ping: parts.ping,
    webhookSecrets: config.webhookSecrets,
    entitlementTokens: config.entitlementTokens,
    policy: config.policy,
    metricsToken: config.metricsToken,
    ...(parts.metrics ? { metrics: parts.metrics } : {}),
    ...(parts.changeReader ? { entitlementEvents: { reader: parts.changeReader, ...config.feed } } : {}),
    ...(config.adminToken ? { admin: adminDeps(services, config.adminToken) } : {}),
    ...(links
      ? {
          updateCardUrlFor: createUpdateCardUrlFor(links, clock, config.cardExpiryNoticeDays),
          billing: {
            links,
            openPortal: services.openPortal,
            restoreAccess: services.restoreAccess,
            publisherReturnUrl: config.publisherReturnUrl,
            publisherName: config.publisherName,
            supportEmail: config.supportEmail,
            logger,
          },
        }
      : {}),
    ...parts.overrides,
  });
}

export interface Workers {
  workers: WorkerSet;
  opsWorkers: OpsWorkers | null;
  close(): Promise<void>;
}

/**
 * The worker side's BullMQ workers (they start taking jobs at once); `metrics` feeds job figures to them.
 * `operations: false` leaves out the resync and missed-event recovery workers (tests that start their own).
 */
export function buildWorkers(
  services: Services,
  options: { metrics?: Metrics; tuning?: Tuning; queueClock?: Clock; operations?: boolean } = {},
): Workers {
  const { config, redis, logger } = services;
  if (!services.noticeSender) throw new Error('buildWorkers needs the side built with a mailer (notices are sent from here)');
  const connected = { connection: redis, prefix: config.redisKeyPrefix, logger, queueClock: options.queueClock ?? systemClock };
  const workers = createWorkerSet({
    ...connected,
    ledger: services.ledger,
    producers: services.producers,
    syncCustomer: services.syncCustomer,
    catalog: services.catalog,
    concurrency: config.workerConcurrency,
    ...(options.tuning?.rateLimitBackoffMs !== undefined ? { rateLimitBackoffMs: options.tuning.rateLimitBackoffMs } : {}),
    cardExpiry: {
      service: services.cardExpiry,
      sweep: services.sweep,
      noticeSender: services.noticeSender,
      noticesPerSecond: config.noticeRateLimitPerSecond,
      grants: services.grantChanges,
    },
  });
  const opsWorkers =
    options.operations === false ? null : createOpsWorkers({ ...connected, runResync: services.runResync, recoverEvents: services.recoverEvents });
  attachJobStory([workers.eventWorker, workers.syncWorker, workers.expiryWorker, workers.noticeWorker] as never, services.story);
  if (options.metrics) {
    // The worker side's own steps (detected, notice sent) and Stripe calls count in the metrics it is given.
    attachSideMetrics(services, options.metrics);
    instrumentWorkers({
      metrics: options.metrics,
      workers: [workers.eventWorker, workers.syncWorker, workers.expiryWorker, workers.noticeWorker] as never,
      clock: services.clock,
      ledger: services.ledger,
    });
  }
  return {
    workers,
    opsWorkers,
    async close() {
      await Promise.allSettled([workers.close(), opsWorkers?.close()]);
    },
  };
}

/** The job schedulers (the daily expiry sweep, missed-event recovery): one per id, however many workers start. */
export async function upsertSchedules(services: Services): Promise<void> {
  await upsertExpirySweep(services.queues.cardExpiry, services.config.cardExpirySweepCron);
  await upsertEventRecovery(services.opsQueues.eventRecovery, services.config.eventRecoveryIntervalMinutes * 60_000);
}

/** The API side of a real process: its connections, services, metrics, change feed and app. */
/** Logs a connection's errors, each reason at most once per 10 s (a lost Redis errors at every reconnect). */
function logConnectionErrors(redis: Redis, logger: Logger, msg: string): Redis {
  const repeating = createRepeatLimiter(logger);
  redis.on('error', (err: Error) => repeating('warn', { reason: err.message }, msg));
  return redis;
}

export async function openApiSide(config: Config, logger: Logger, clock: Clock) {
  const redis = logConnectionErrors(createFailFastConnection(config.redis), logger, 'api redis connection error');
  // BullMQ probes the server once when a queue is built; a fail-fast connection not yet up fails it for good.
  await waitForRedis(redis, (message) => logger.warn(message));
  // Catch-up pages of the feed get a connection of their own, so a client resuming far back never queues
  // replies ahead of an entitlement check; the blocking XREAD one opens on the first subscriber.
  const catchUpRedis = logConnectionErrors(createFailFastConnection(config.redis, 'subgate-events-catch-up'), logger, 'events catch-up redis connection error');
  await waitForRedis(catchUpRedis, (message) => logger.warn(message));
  const changeReader = createEntitlementChangeReader({
    redis,
    catchUpRedis,
    prefix: config.redisKeyPrefix,
    openBlockingConnection: () => logConnectionErrors(createWorkerConnection(config.redis, 'subgate-events'), logger, 'events redis connection error'),
    onError: (() => {
      const repeating = createRepeatLimiter(logger);
      return (err: Error) => repeating('warn', { reason: err.message }, 'entitlement change reader error');
    })(),
  });

  const services = buildServices(config, { redis, clock, logger });
  const metrics = buildMetrics(services, { defaultMetrics: true });
  if (!services.links) logger.warn('LINK_SIGNING_SECRET is not set: no update-card links, /billing routes are off');
  if (!config.adminToken) logger.warn('ADMIN_TOKEN is not set: /admin routes and Bull Board are off');
  if (!config.metricsToken) logger.warn('METRICS_TOKEN is not set: /metrics answers anyone who can reach this port');
  const app = buildApi(services, {
    ping: async () => {
      await redis.ping();
    },
    changeReader,
    metrics,
  });
  // After the HTTP drain: the feed's streams end with it, then queues and connections close.
  const shutdownSteps: ShutdownStep[] = [
    { name: 'queues', run: () => services.close() },
    { name: 'redis', run: () => redis.quit() },
    { name: 'events-catch-up-redis', run: () => catchUpRedis.quit() },
  ];
  return { app, changeReader, metrics, shutdownSteps };
}

/** The worker side of a real process: its connection, mailer, services and workers, schedules in place. */
export async function openWorkerSide(config: Config, logger: Logger, clock: Clock, metrics?: Metrics) {
  const redis = logConnectionErrors(createWorkerConnection(config.redis), logger, 'worker redis connection error');
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.noticeFrom, logger });
  if (mailer.transport === 'log') logger.warn('SMTP_URL is not set: notices are written to the debug log, not sent');
  const services = buildServices(config, { redis, clock, logger, mailer });
  // A worker process of its own (not inside the API) serves its own figures on METRICS_PORT.
  const ownMetrics = !metrics && config.metricsPort !== undefined ? buildMetrics(services, { defaultMetrics: true }) : null;
  const workers = buildWorkers(services, metrics || ownMetrics ? { metrics: (metrics ?? ownMetrics)! } : {});
  const metricsApp: Express | null = ownMetrics
    ? buildMetricsApp({ metrics: ownMetrics, token: config.metricsToken, logger, ping: async () => void (await redis.ping()) })
    : null;
  await upsertSchedules(services);
  // Active jobs get their share of the drain; one still running at the limit is left to BullMQ's stalled
  // check (another worker takes it over), and the connections close anyway.
  const shutdownSteps: ShutdownStep[] = [
    { name: 'workers', run: () => workers.close(), limitMs: drainLimits(config.shutdownTimeoutMs).workersMs },
    { name: 'mailer', run: () => mailer.close() },
    { name: 'worker-queues', run: () => services.close() },
    { name: 'worker-redis', run: () => redis.quit() },
  ];
  // Said by the entry point once SIGTERM is handled, so whoever waits for it can stop the process.
  const logStarted = () => logger.info({ concurrency: config.workerConcurrency }, 'workers started');
  return { shutdownSteps, logStarted, metricsApp };
}

/** The resync as the CLI runs it, in its own process: the worker side's services on a connection of its own. */
export async function openResync(config: Config, logger: Logger, clock: Clock) {
  const redis = logConnectionErrors(createWorkerConnection(config.redis, 'subgate-resync'), logger, 'redis connection error');
  await waitUntilReady(redis, 10_000);
  const services = buildServices(config, { redis, clock, logger });
  return {
    runResync: services.runResync,
    async close() {
      await services.close();
      await redis.quit().catch(() => undefined);
    },
  };
}
