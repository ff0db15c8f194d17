/**
 * `npx tsx bench/metrics-scrape.ts [--seconds N] [--scrapers N]`: what /metrics scrapes cost the
 * entitlement check. The real app (built by src/composition.ts, metrics over the six queues and both
 * stats hashes, as the API process wires them) runs in a child process on 127.0.0.1 against a throwaway redis-server; this
 * process drives GET /v1/entitlements with autocannon, first alone, then beside N loops that each fetch
 * /metrics again as soon as the last answer is in, and, for scale, beside N such loops on /healthz (the
 * cheapest route). Prints check latency and throughput, loop requests done, and Redis commands per
 * second. Figures drift on a shared machine; compare within one run.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createSilentLogger } from '../src/logger.js';
import { systemClock } from '../src/runtime.js';
import { createFailFastConnection, waitUntilReady } from '../src/store/redis-connections.js';
import { startDisposableRedis } from '../test/support/redis.js';
import { buildApi, buildMetrics, buildServices } from '../src/composition.js';
import { benchConfig } from './lib/bench-config.js';

const TOKEN = 'bench-content-service-token-0001';
const PREFIX = 'bench-metrics';
const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]) || fallback;
};

async function serve(redisUrl: string): Promise<void> {
  const redis = createFailFastConnection(redisUrl);
  await waitUntilReady(redis);
  const config = benchConfig({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: PREFIX, ENTITLEMENT_API_TOKENS: TOKEN });
  const services = buildServices(config, { redis, clock: systemClock, logger: createSilentLogger() });
  await services.store.write({
    customer: 'cus_bench',
    user: 'bench-reader',
    email: null,
    deleted: false,
    default_card: null,
    read_at: Date.now(),
    subscriptions: [
      {
        id: 'sub_bench',
        status: 'active',
        current_period_end: Date.now() + 20 * 86_400_000,
        cancel_at_period_end: false,
        card: { id: 'pm_bench', brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2035 },
        past_due_since: null,
        created: Date.now() - 86_400_000,
      },
    ],
  });
  const metrics = buildMetrics(services, { defaultMetrics: true });
  const app = buildApi(services, { ping: async () => undefined, metrics });
  const server = createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

async function measure(): Promise<void> {
  const seconds = arg('--seconds', 8);
  const scrapers = arg('--scrapers', 50);
  const redisServer = await startDisposableRedis();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', redisServer.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const { port } = JSON.parse(String(line)) as { port: number };
    const base = `http://127.0.0.1:${port}`;
    const probe = new Redis(redisServer.url);
    const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await probe.info('stats'))?.[1] ?? 0);

    const checks = () =>
      autocannon({ url: `${base}/v1/entitlements?customer=cus_bench`, connections: 10, duration: seconds, headers: { authorization: `Bearer ${TOKEN}` } });
    const phase = async (path: string | null) => {
      let running = true;
      let scrapes = 0;
      const loops = Array.from({ length: path ? scrapers : 0 }, async () => {
        while (running) {
          const res = await fetch(`${base}${path}`);
          await res.text();
          scrapes += 1;
        }
      });
      const before = await commands();
      const result = await checks();
      const after = await commands();
      running = false;
      await Promise.all(loops);
      return {
        beside: path ? `${scrapers} loops on ${path}` : 'nothing',
        'check p50 ms': result.latency.p50,
        'check p99 ms': result.latency.p99,
        'checks/s': Math.round(result.requests.average),
        'loop requests/s': Math.round(scrapes / seconds),
        'redis cmds/s': Math.round((after - before) / seconds),
        non2xx: result.non2xx,
      };
    };
    await checks(); // warm-up
    const rows = [await phase(null), await phase('/healthz'), await phase('/metrics')];
    console.table(rows);
    await probe.quit();
  } finally {
    child.kill('SIGTERM');
    await redisServer.stop();
  }
}

if (process.argv.includes('--serve')) await serve(process.argv[process.argv.indexOf('--serve') + 1]!);
else await measure();
