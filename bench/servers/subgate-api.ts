/**
 * The real subgate API as src/main.ts wires it (buildApp, fail-fast Redis connection, real stores and
 * queues, the change feed's reader with its blocking and catch-up connections, pino at info), but with
 * settings from the bench's environment instead of loadConfig(). BENCH_FEED_OPTIONS (JSON) is spread into
 * the feed's options, so bench/feed-replay.ts can build this same file against an older tree whose route
 * knows fewer of them (it ignores the rest).
 */
import { createServer } from 'node:http';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { createQueues } from '../../src/queues.js';
import { systemClock } from '../../src/runtime.js';
import { createFailFastConnection, createWorkerConnection, waitUntilReady } from '../../src/store/redis-connections.js';
import { createEntitlementChangeReader } from '../../src/store/entitlement-change-reader.js';
import { createSubscriberStore } from '../../src/store/subscriber-store.js';
import { createEventLedger } from '../../src/store/event-ledger.js';
import { requireEnv, serve } from '../lib/child.js';

const prefix = requireEnv('BENCH_PREFIX');
const url = requireEnv('BENCH_REDIS_URL');
const logger = createLogger('info');
const redis = createFailFastConnection(url);
const catchUpRedis = createFailFastConnection(url, 'subgate-events-catch-up');
for (const connection of [redis, catchUpRedis]) connection.on('error', (err) => logger.warn({ reason: err.message }, 'api redis connection error'));
await Promise.all([waitUntilReady(redis), waitUntilReady(catchUpRedis)]);
const queues = createQueues(redis, prefix);
// Its blocking connection opens on the first feed client only.
const reader = createEntitlementChangeReader({
  redis,
  catchUpRedis,
  prefix,
  openBlockingConnection: () => {
    const connection = createWorkerConnection(url, 'subgate-events');
    connection.on('error', () => undefined);
    return connection;
  },
});
const feedOptions = JSON.parse(process.env.BENCH_FEED_OPTIONS ?? '{}') as Record<string, number>;

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
  entitlementEvents: { reader, ...feedOptions },
});

await serve(createServer(app), {}, async () => {
  await reader.close();
  await queues.close();
  await Promise.allSettled([redis.quit(), catchUpRedis.quit()]);
});
