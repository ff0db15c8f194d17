/**
 * The real subgate API as the API process builds it (src/composition.ts: the services, the app, the change
 * feed's reader with its blocking and catch-up connections, pino at info), with its Config read from the
 * bench's environment. BENCH_FEED_OPTIONS (JSON) is spread into the feed's options (bench/feed-replay.ts
 * sets the replay limits through it).
 */
import { createServer } from 'node:http';
import { createLogger } from '../../src/logger.js';
import { systemClock } from '../../src/runtime.js';
import { createFailFastConnection, createWorkerConnection, waitUntilReady } from '../../src/store/redis-connections.js';
import { createEntitlementChangeReader } from '../../src/store/entitlement-change-reader.js';
import { buildApi, buildServices } from '../../src/composition.js';
import { benchConfig } from '../lib/bench-config.js';
import { requireEnv, serve } from '../lib/child.js';

const prefix = requireEnv('BENCH_PREFIX');
const url = requireEnv('BENCH_REDIS_URL');
const logger = createLogger('info');
const redis = createFailFastConnection(url);
const catchUpRedis = createFailFastConnection(url, 'subgate-events-catch-up');
for (const connection of [redis, catchUpRedis]) connection.on('error', (err) => logger.warn({ reason: err.message }, 'api redis connection error'));
await Promise.all([waitUntilReady(redis), waitUntilReady(catchUpRedis)]);
const config = benchConfig({
  REDIS_URL: url,
  REDIS_KEY_PREFIX: prefix,
  STRIPE_WEBHOOK_SECRET: requireEnv('BENCH_WEBHOOK_SECRET'),
  ENTITLEMENT_API_TOKENS: requireEnv('BENCH_TOKEN'),
});
const services = buildServices(config, { redis, clock: systemClock, logger });
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

const app = buildApi(services, {
  ping: async () => {
    await redis.ping();
  },
  overrides: { entitlementEvents: { reader, ...config.feed, ...feedOptions } },
});

await serve(createServer(app), {}, async () => {
  await reader.close();
  await services.close();
  await Promise.allSettled([redis.quit(), catchUpRedis.quit()]);
});
