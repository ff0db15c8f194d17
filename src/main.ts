/**
 * Composition root of the API process: config -> clients -> buildApp -> listen. With `--with-workers`
 * (what `npm start` passes) the workers run in the same process.
 */
import { once } from 'node:events';
import { loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { buildApp } from './app.js';
import { createQueues } from './queues.js';
import { createFailFastConnection, waitForRedis } from './store/redis-connections.js';
import { createSubscriberStore } from './store/subscriber-store.js';
import { createEventLedger } from './store/event-ledger.js';
import { createShutdown, exitOnSignals, systemClock } from './runtime.js';
import { startWorkers } from '../workers/main.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}

const logger = createLogger(config.logLevel);
const redis = createFailFastConnection(config.redisUrl);
redis.on('error', (err) => logger.warn({ reason: err.message }, 'api redis connection error'));
await waitForRedis(redis, (message) => logger.warn(message));
const prefix = config.redisKeyPrefix;
const queues = createQueues(redis, prefix);

const app = buildApp({
  store: createSubscriberStore({ redis, prefix }),
  ledger: createEventLedger({ redis, prefix }),
  queues,
  clock: systemClock,
  logger,
  ping: async () => {
    await redis.ping();
  },
  webhookSecrets: config.webhookSecrets,
  entitlementTokens: config.entitlementTokens,
  policy: config.policy,
});

const server = app.listen(config.port);
await once(server, 'listening');
const address = server.address();
logger.info({ port: typeof address === 'object' && address ? address.port : config.port }, 'api listening');

const workers = process.argv.includes('--with-workers') ? await startWorkers(config, logger) : null;

const shutdown = createShutdown(
  [
    {
      name: 'http',
      run: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    },
    { name: 'workers', run: () => workers?.close() },
    { name: 'queues', run: () => queues.close() },
    { name: 'redis', run: () => redis.quit() },
  ],
  logger,
);
exitOnSignals(shutdown, logger);
