/**
 * Composition root of the worker process: config -> Redis, Stripe and queues -> the worker set.
 * `npm run start:worker` runs it alone; `npm start` starts it inside the API process.
 */
import type { Config } from '../src/config.js';
import { expiryComponentsFrom, loadConfigOrExit, operationsFrom, stripeClientFrom, updateCardLinksFrom } from '../src/wiring.js';
import { createLogger, type Logger } from '../src/logger.js';
import { createQueues, upsertExpirySweep } from '../src/queues.js';
import { createWorkerConnection } from '../src/store/redis-connections.js';
import { createSubscriberStore } from '../src/store/subscriber-store.js';
import { createEventLedger } from '../src/store/event-ledger.js';
import { createStripeGateway } from '../src/adapters/stripe-gateway.js';
import { createMailer } from '../src/adapters/mailer.js';
import { createCustomerSync } from '../src/sync/customer-sync.js';
import { isEntryPoint, systemClock } from '../src/runtime.js';
import { createShutdown, drainLimits, exitOnSignals, type ShutdownStep } from '../src/drain.js';
import type { Clock } from '../src/domain/projection.js';
import { createWorkerSet } from './worker-set.js';
import { createOpsQueues, upsertEventRecovery } from '../src/queues.js';
import { instrumentWorkers } from '../src/metrics/worker-metrics.js';
import type { Metrics } from '../src/metrics/metrics.js';
import { createOpsWorkers } from './ops-workers.js';

/** `metrics`: the API's registry when both run in one process (`npm start`), so /metrics shows the workers too. */
export async function startWorkers(config: Config, logger: Logger, clock: Clock = systemClock, metrics?: Metrics) {
  const connection = createWorkerConnection(config.redisUrl);
  connection.on('error', (err) => logger.warn({ reason: err.message }, 'worker redis connection error'));
  const prefix = config.redisKeyPrefix;
  const queues = createQueues(connection, prefix);
  const store = createSubscriberStore({ redis: connection, prefix });
  const ledger = createEventLedger({ redis: connection, prefix });
  const stripeClient = stripeClientFrom(config, connection);
  const stripe = createStripeGateway(stripeClient);
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.noticeFrom, logger });
  if (mailer.transport === 'log') logger.warn('SMTP_URL is not set: notices are written to the debug log, not sent');
  const links = updateCardLinksFrom(config, clock);
  const expiry = expiryComponentsFrom(config, { redis: connection, queues, store, stripeClient, links, clock, logger, mailer });
  const syncCustomer = createCustomerSync({
    stripe,
    store,
    clock,
    userIdMetadataKey: config.userIdMetadataKey,
    logger,
    afterWrite: expiry.afterWrite,
  });
  const workers = createWorkerSet({
    connection,
    prefix,
    queues,
    ledger,
    syncCustomer,
    clock,
    logger,
    debounceMs: config.syncDebounceMs,
    concurrency: config.workerConcurrency,
    cardExpiry: {
      service: expiry.service,
      sweep: expiry.sweep,
      noticeSender: expiry.noticeSender!,
      noticesPerSecond: config.noticeRateLimitPerSecond,
    },
  });
  await upsertExpirySweep(queues.cardExpiry, config.cardExpirySweepCron);
  // Operations (issue 5): the resync and missed-event recovery, through the same writer and ledger.
  const opsQueues = createOpsQueues(connection, prefix);
  const operations = operationsFrom(config, {
    redis: connection,
    stripe: stripeClient,
    store,
    ledger,
    queues,
    clock,
    logger,
    afterWrite: expiry.afterWrite,
  });
  const opsWorkers = createOpsWorkers({ connection, prefix, logger, runBackfill: operations.runBackfill, recoverEvents: operations.recoverEvents });
  await upsertEventRecovery(opsQueues.eventRecovery, config.eventRecoveryIntervalMinutes * 60_000);
  if (metrics) {
    instrumentWorkers({
      metrics,
      workers: [workers.eventWorker, workers.syncWorker, workers.expiryWorker, workers.noticeWorker] as never,
      clock,
      ledger,
    });
  }
  // Active jobs get their share of the drain; one still running at the limit is left to BullMQ's stalled
  // check (another worker takes it over), and the connections close anyway.
  const shutdownSteps: ShutdownStep[] = [
    { name: 'workers', run: () => workers.close(), limitMs: drainLimits(config.shutdownTimeoutMs).workersMs },
    { name: 'ops-workers', run: () => opsWorkers.close() },
    { name: 'ops-queues', run: () => opsQueues.close() },
    { name: 'mailer', run: () => mailer.close() },
    { name: 'queues', run: () => queues.close() },
    { name: 'worker-redis', run: () => connection.quit() },
  ];
  // Said by the entry point once SIGTERM is handled, so whoever waits for it can stop the process.
  const logStarted = () => logger.info({ concurrency: config.workerConcurrency }, 'workers started');
  return { shutdownSteps, logStarted };
}

if (isEntryPoint(import.meta.url)) {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel);
  const workers = await startWorkers(config, logger);
  exitOnSignals(createShutdown(workers.shutdownSteps, logger), logger, drainLimits(config.shutdownTimeoutMs).totalMs);
  workers.logStarted();
}
