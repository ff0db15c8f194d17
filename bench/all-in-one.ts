/**
 * `npx tsx bench/all-in-one.ts [-- --backlog N] [-- --seconds N] [-- --stripe-rate N] [-- --profile]`: the all-in-one figure on
 * its own (bench/lib/all-in-one.ts): 10,000 customers seeded, `npm start` draining a backlog with the
 * sweep queued, the entitlement check at 2,000 req/s beside B2; --profile writes a `--cpu-prof` of the
 * all-in-one process to bench/tmp/profiles.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startDisposableRedis } from '../test/support/redis.js';
import { waitUntilReady } from '../src/store/redis-connections.js';
import { makeCustomers } from './lib/fixtures.js';
import { buildServers, REPO_ROOT } from './lib/server-process.js';
import { seedBaselineHashes, seedCustomers } from './lib/redis-data.js';
import { measureAllInOne } from './lib/all-in-one.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TOKEN = 'bench-content-service-token-0001';
buildServers();
const server = await startDisposableRedis();
const redis = new Redis(server.url, { enableAutoPipelining: true, maxRetriesPerRequest: null });
await waitUntilReady(redis);
try {
  const customers = makeCustomers(10_000);
  await seedCustomers(redis, 'bench', customers);
  await seedBaselineHashes(redis);
  const paths = customers.map((c) => `/v1/entitlements?customer=${c.id}`);
  const headers = { authorization: `Bearer ${TOKEN}` };
  const f = await measureAllInOne({
    redis,
    prefix: 'bench',
    env: { BENCH_REDIS_URL: server.url, BENCH_PREFIX: 'bench', BENCH_TOKEN: TOKEN, BENCH_WEBHOOK_SECRET: 'whsec_bench_0000000000000000000001' },
    customers,
    backlog: arg('--backlog', 20_000),
    stripeRequestsPerSecond: arg('--stripe-rate', 20),
    contender: (s) => ({
      label: s.name,
      spec: () => ({ port: s.port, next: () => ({ path: paths[Math.floor(Math.random() * paths.length)]!, headers }), connections: 50, overallRate: 2000 }),
    }),
    rounds: { segments: arg('--seconds', 3), segmentS: 1, warmupS: 1 },
    ...(process.argv.includes('--profile') ? { cpuProfileDir: join(REPO_ROOT, 'bench', 'tmp', 'profiles') } : {}),
  });
  console.log(
    `B2: p50 ${f.b2.p50} ms p99 ${f.b2.p99} ms; all-in-one: p50 ${f.ent.p50} ms p99 ${f.ent.p99} ms (${(f.ent.p99 / f.b2.p99).toFixed(2)}x); loop p99 ${f.loop.p99Ms.toFixed(1)} ms max ${f.loop.maxMs.toFixed(1)} ms; ${f.left} event and refresh jobs left`,
  );
} finally {
  redis.disconnect();
  await server.stop();
}
process.exit(0);
