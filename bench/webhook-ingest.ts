/**
 * `npx tsx bench/webhook-ingest.ts [-- --seconds N] [-- --profile]`: the webhook figure on its own: B4 (the
 * naive route) and subgate's API, interleaved as in `npm run bench`, on a throwaway Redis; --profile
 * writes a `--cpu-prof` of the API to bench/tmp/profiles.
 */
import { join } from 'node:path';
import { startDisposableRedis } from '../test/support/redis.js';
import { makeCustomers, signedEventPool, type SignedEvent } from './lib/fixtures.js';
import { interleaved, type Contender } from './lib/load.js';
import { buildServers, startServer, REPO_ROOT, type ServerProcess } from './lib/server-process.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const segments = arg('--seconds', 5);
const profile = process.argv.includes('--profile');
const SECRET = 'whsec_bench_0000000000000000000001';
buildServers();
const redis = await startDisposableRedis();
const env = { BENCH_REDIS_URL: redis.url, BENCH_PREFIX: 'bench', BENCH_TOKEN: 'bench-content-service-token-0001', BENCH_WEBHOOK_SECRET: SECRET };
const servers: ServerProcess[] = [];
try {
  const b4 = await startServer('b4-naive-webhook', { env: { ...env, BENCH_PREFIX: 'benchb4' } });
  servers.push(b4);
  const api = await startServer('subgate-api', { env, ...(profile ? { cpuProfileDir: join(REPO_ROOT, 'bench', 'tmp', 'profiles') } : {}) });
  servers.push(api);
  const ids = makeCustomers(1000).map((c) => c.id);
  const post = (server: ServerProcess): Contender => {
    const state = { pool: signedEventPool(4000 * (1 + segments), ids, SECRET, server.name.slice(0, 2)) as SignedEvent[], used: 0 };
    const next = () => {
      const event = state.pool[Math.min(state.used++, state.pool.length - 1)]!;
      return { path: '/webhooks/stripe', method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': event.header }, body: event.payload };
    };
    return { label: server.name, spec: () => ({ port: server.port, next, method: 'POST', connections: 50, maxRequests: Math.max(50, state.pool.length - state.used - 100) }) };
  };
  const r = await interleaved([post(b4), post(api)], { segments, segmentS: 1, warmupS: 1 });
  const a = r.get(api.name)!;
  const b = r.get(b4.name)!;
  console.log(`B4: ${b.rps.toFixed(0)} req/s p99 ${b.p99} ms; API: ${a.rps.toFixed(0)} req/s p99 ${a.p99} ms (non-2xx ${a.non2xx}); ratio ${(a.rps / b.rps).toFixed(3)}x, p99 ${(a.p99 / b.p99).toFixed(2)}x`);
} finally {
  for (const s of servers) await s.stop();
  await redis.stop();
}
process.exit(0);
