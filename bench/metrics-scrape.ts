/**
 * `npx tsx bench/metrics-scrape.ts [--seconds N] [--scrapers N]`: what /metrics scrapes cost the
 * entitlement check. The real app (buildApp, metrics over the six queues and both stats hashes, as
 * src/main.ts wires them) runs in a child process on 127.0.0.1 against a throwaway redis-server; this
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
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { buildApp } from '../src/app.js';
import { createSilentLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { createOpsQueues, createQueues } from '../src/queues.js';
import { systemClock } from '../src/runtime.js';
import { createEventLedger } from '../src/store/event-ledger.js';
import { createNoticeLedger } from '../src/store/notice-ledger.js';
import { createFailFastConnection, waitUntilReady } from '../src/store/redis-connections.js';
import { createSubscriberStore } from '../src/store/subscriber-store.js';
import { startDisposableRedis } from '../test/support/redis.js';

const TOKEN = 'bench-content-service-token-0001';
const PREFIX = 'bench-metrics';
const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]) || fallback;
};

async function serve(redisUrl: string): Promise<void> {
  const redis = createFailFastConnection(redisUrl);
  await waitUntilReady(redis);
  const queues = createQueues(redis, PREFIX);
  const ops = createOpsQueues(redis, PREFIX);
  const store = createSubscriberStore({ redis, prefix: PREFIX });
  const ledger = createEventLedger({ redis, prefix: PREFIX });
  await store.write({
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
  const metrics = createMetrics({
    clock: systemClock,
    queues: [queues.stripeEvents, queues.customerSync, queues.cardExpiry, queues.notices, ops.backfill, ops.eventRecovery] as Queue[],
    eventCounts: () => ledger.counts(),
    noticeCounts: () => createNoticeLedger({ redis, prefix: PREFIX }).counts(),
    defaultMetrics: true,
  });
  const app = buildApp({
    store,
    ledger,
    queues,
    clock: systemClock,
    logger: createSilentLogger(),
    ping: async () => undefined,
    webhookSecrets: ['whsec_bench_metrics_0001'],
    entitlementTokens: [TOKEN],
    policy: { cardExpiredGraceDays: 0, pastDueGraceDays: 7 },
    metrics,
  });
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
