/**
 * Composition root of the worker process: config -> Redis, Stripe and queues -> the worker set.
 * `npm run start:worker` runs it alone; `npm start` starts it inside the API process.
 */
import { loadConfig, type Config } from '../src/config.js';
import { createLogger, type Logger } from '../src/logger.js';
import { createQueues } from '../src/queues.js';
import { createWorkerConnection } from '../src/store/redis-connections.js';
import { createSubscriberStore } from '../src/store/subscriber-store.js';
import { createEventLedger } from '../src/store/event-ledger.js';
import { createStripeClient, createStripeGateway } from '../src/adapters/stripe-gateway.js';
import { createCustomerSync } from '../src/sync/customer-sync.js';
import { createShutdown, exitOnSignals, isEntryPoint, systemClock } from '../src/runtime.js';
import type { Clock } from '../src/domain/projection.js';
import { createWorkerSet } from './worker-set.js';

export async function startWorkers(config: Config, logger: Logger, clock: Clock = systemClock) {
  const connection = createWorkerConnection(config.redisUrl);
  connection.on('error', (err) => logger.warn({ reason: err.message }, 'worker redis connection error'));
  const prefix = config.redisKeyPrefix;
  const queues = createQueues(connection, prefix);
  const store = createSubscriberStore({ redis: connection, prefix });
  const ledger = createEventLedger({ redis: connection, prefix });
  const stripe = createStripeGateway(createStripeClient({ secretKey: config.stripe.secretKey, apiBase: config.stripe.apiBase }));
  const syncCustomer = createCustomerSync({ stripe, store, clock, userIdMetadataKey: config.userIdMetadataKey, logger });
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
    stripeRequestsPerSecond: config.stripe.rateLimitPerSecond,
  });
  logger.info({ concurrency: config.workerConcurrency }, 'workers started');
  return {
    close: createShutdown(
      [
        { name: 'workers', run: () => workers.close() },
        { name: 'queues', run: () => queues.close() },
        { name: 'redis', run: () => connection.quit() },
      ],
      logger,
    ),
  };
}

if (isEntryPoint(import.meta.url)) {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  const workers = await startWorkers(config, logger);
  exitOnSignals(workers.close, logger);
}
