/**
 * The real subgate API as src/main.ts wires it (buildApp, fail-fast Redis connection, real stores and
 * queues, pino at info), but with settings from the bench's environment instead of loadConfig().
 */
import { createServer } from 'node:http';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { createQueues } from '../../src/queues.js';
import { systemClock } from '../../src/runtime.js';
import { createFailFastConnection, waitUntilReady } from '../../src/store/redis-connections.js';
import { createSubscriberStore } from '../../src/store/subscriber-store.js';
import { createEventLedger } from '../../src/store/event-ledger.js';
import { requireEnv, serve } from '../lib/child.js';

const prefix = requireEnv('BENCH_PREFIX');
const logger = createLogger('info');
const redis = createFailFastConnection(requireEnv('BENCH_REDIS_URL'));
redis.on('error', (err) => logger.warn({ reason: err.message }, 'api redis connection error'));
await waitUntilReady(redis);
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
  webhookSecrets: [requireEnv('BENCH_WEBHOOK_SECRET')],
  entitlementTokens: [requireEnv('BENCH_TOKEN')],
  policy: { cardExpiredGraceDays: 0, pastDueGraceDays: 7 },
});

await serve(createServer(app), {}, async () => {
  await queues.close();
  await redis.quit();
});
