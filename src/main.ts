/**
 * Composition root of the API process: config -> clients -> buildApp -> listen. With `--with-workers`
 * (what `npm start` passes) the workers run in the same process.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createLogger } from './logger.js';
import { buildApp } from './app.js';
import { createQueues } from './queues.js';
import { createFailFastConnection, createWorkerConnection, waitForRedis } from './store/redis-connections.js';
import { createEntitlementChangeReader } from './store/entitlement-change-reader.js';
import { createSubscriberStore } from './store/subscriber-store.js';
import { createEventLedger } from './store/event-ledger.js';
import { systemClock } from './runtime.js';
import { createHttpDrain, createShutdown, drainLimits, exitOnSignals, httpDrainStep } from './drain.js';
import { createStripeGateway } from './adapters/stripe-gateway.js';
import { createStripeBilling } from './adapters/stripe-billing.js';
import { createCustomerSync } from './sync/customer-sync.js';
import { createUpdateCardUrlFor } from './billing/update-card-links.js';
import { createAccessRestorer } from './billing/restore-access.js';
import { createPortalSessionStore, createReturnThrottle } from './store/billing-link-throttle.js';
import { createPortalSessionOpener } from './billing/portal-sessions.js';
import { applyServerLimits } from './http/server-limits.js';
import { expiryComponentsFrom, loadConfigOrExit, stripeClientFrom, updateCardLinksFrom } from './wiring.js';
import { startWorkers } from '../workers/main.js';
import { createOpsQueues } from './queues.js';
import { createMetrics } from './metrics/metrics.js';
import { createNoticeLedger } from './store/notice-ledger.js';
import type { Queue } from 'bullmq';

const config = loadConfigOrExit();

const logger = createLogger(config.logLevel);
const redis = createFailFastConnection(config.redisUrl);
redis.on('error', (err) => logger.warn({ reason: err.message }, 'api redis connection error'));
await waitForRedis(redis, (message) => logger.warn(message));
const prefix = config.redisKeyPrefix;
const queues = createQueues(redis, prefix);
const store = createSubscriberStore({ redis, prefix });
const clock = systemClock;

// The update-card link needs Stripe here too: the portal session, and the re-read on the way back.
const stripeClient = stripeClientFrom(config, redis);
const billing = createStripeBilling(stripeClient);
const links = updateCardLinksFrom(config, clock);
const expiry = expiryComponentsFrom(config, { redis, queues, store, stripeClient, links, clock, logger });
const syncCustomer = createCustomerSync({
  stripe: createStripeGateway(stripeClient),
  store,
  clock,
  userIdMetadataKey: config.userIdMetadataKey,
  logger,
  afterWrite: expiry.afterWriteWithoutRecovery,
});
if (!links) logger.warn('LINK_SIGNING_SECRET is not set: no update-card links, /billing routes are off');

// Operations (issue 5): metrics for every process's work (queue depths and outcomes come from Redis),
// and the admin routes only when ADMIN_TOKEN is set.
const opsQueues = createOpsQueues(redis, prefix);
const eventLedger = createEventLedger({ redis, prefix });
const metrics = createMetrics({
  clock,
  queues: [queues.stripeEvents, queues.customerSync, queues.cardExpiry, queues.notices, opsQueues.backfill, opsQueues.eventRecovery] as Queue[],
  eventCounts: () => eventLedger.counts(),
  noticeCounts: () => createNoticeLedger({ redis, prefix }).counts(),
  defaultMetrics: true,
});
if (!config.adminToken) logger.warn('ADMIN_TOKEN is not set: /admin routes and Bull Board are off');
if (!config.metricsToken) logger.warn('METRICS_TOKEN is not set: /metrics answers anyone who can reach this port');

// Live entitlement events: one blocking XREAD connection for the whole process, opened on first subscriber,
// and one for catch-up pages, so a client resuming far back never queues replies ahead of an entitlement check.
const catchUpRedis = createFailFastConnection(config.redisUrl, 'subgate-events-catch-up');
catchUpRedis.on('error', (err) => logger.warn({ reason: err.message }, 'events catch-up redis connection error'));
await waitForRedis(catchUpRedis, (message) => logger.warn(message));
const changeReader = createEntitlementChangeReader({
  redis,
  catchUpRedis,
  prefix,
  openBlockingConnection: () => {
    const connection = createWorkerConnection(config.redisUrl, 'subgate-events');
    connection.on('error', (err) => logger.warn({ reason: err.message }, 'events redis connection error'));
    return connection;
  },
  onError: (err) => logger.warn({ reason: err.message }, 'entitlement change reader error'),
});

const app = buildApp({
  metrics,
  metricsToken: config.metricsToken,
  entitlementEvents: { reader: changeReader, ...config.feed },
  ...(config.adminToken
    ? { admin: { adminToken: config.adminToken, store, clock, policy: config.policy, opsQueues, queues } }
    : {}),
  store,
  ledger: createEventLedger({ redis, prefix }),
  queues,
  clock,
  logger,
  ping: async () => {
    await redis.ping();
  },
  webhookSecrets: config.webhookSecrets,
  entitlementTokens: config.entitlementTokens,
  policy: config.policy,
  ...(links
    ? {
        updateCardUrlFor: createUpdateCardUrlFor(links, clock, config.cardExpiryNoticeDays),
        billing: {
          links,
          openPortal: createPortalSessionOpener({
            portal: billing,
            sessions: createPortalSessionStore({ redis, prefix, clock, ...config.updateCardSessions }),
          }),
          restoreAccess: createAccessRestorer({
            syncCustomer,
            store,
            recovery: expiry.recovery,
            throttle: createReturnThrottle({ redis, prefix, clock }),
          }),
          publisherReturnUrl: config.publisherReturnUrl,
          publisherName: config.publisherName,
          supportEmail: config.supportEmail,
          logger,
        },
      }
    : {}),
});

const workers = process.argv.includes('--with-workers') ? await startWorkers(config, logger, clock, metrics) : null;

// The drain is in place before the first connection, and SIGTERM is handled before anyone is told the
// process is up.
const server = applyServerLimits(createServer(app), config.http, logger);
const drainHttp = createHttpDrain(server);
const limits = drainLimits(config.shutdownTimeoutMs);
const shutdown = createShutdown(
  [
    httpDrainStep(drainHttp, { limitMs: limits.httpMs, logger, endStreams: () => changeReader.close() }),
    ...(workers?.shutdownSteps ?? []),
    { name: 'queues', run: () => queues.close() },
    { name: 'ops-queues', run: () => opsQueues.close() },
    { name: 'redis', run: () => redis.quit() },
    { name: 'events-catch-up-redis', run: () => catchUpRedis.quit() },
  ],
  logger,
);
exitOnSignals(shutdown, logger, limits.totalMs);
server.listen(config.port);
await once(server, 'listening');
const address = server.address();
if (workers) workers.logStarted();
logger.info({ port: typeof address === 'object' && address ? address.port : config.port }, 'api listening');
