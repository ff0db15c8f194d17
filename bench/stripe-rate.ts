/**
 * `npm run bench:stripe-rate [-- --customers=1000] [-- --limit=50] [-- --faults=0.3]`: what the workers
 * get out of the Stripe request budget while Stripe refuses some requests. Two worker processes
 * (workers/main.ts itself, as deployed) refresh a backlog of customers from the Stripe double, which
 * answers a share of requests with 429 (no Retry-After, Stripe-Should-Retry: false). Prints the Stripe
 * requests per second achieved, the most requests Stripe saw in any sliding second, and how long the
 * backlog took. Needs `redis-server` on PATH (or REDIS_SERVER_BIN); never part of `npm test`.
 */
import { Redis } from 'ioredis';
import { createOpsQueues, createProducers, createQueues } from '../src/queues.js';
import { systemClock } from '../src/runtime.js';
import { createSubscriberStore } from '../src/store/subscriber-store.js';
import { startDisposableRedis, waitFor } from '../test/support/redis.js';
import { startStripeDouble } from '../test/support/stripe-double.js';
import { seedReader } from '../test/support/readers.js';
import { maxInAnyWindow } from '../test/support/request-windows.js';
import { startWorkerProcess } from '../test/support/worker-processes.js';

const option = (name: string, fallback: number) => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
};
const customers = option('customers', 1000);
const limit = option('limit', 50);
const faults = option('faults', 0.3);
const prefix = 'bench-stripe-rate';

const redisServer = await startDisposableRedis();
const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
const double = await startStripeDouble();
const queues = createQueues(redis, prefix);
const opsQueues = createOpsQueues(redis, prefix);
const producers = createProducers({ queues, opsQueues, clock: systemClock, debounceMs: 0 });
const workers = [];
try {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const ids = Array.from({ length: customers }, () => seedReader(double, { nowSeconds }).customer.id);
  double.failNext(Number.MAX_SAFE_INTEGER, { status: 429, match: (r) => r.path.startsWith('/v1/') && Math.random() < faults });
  for (const customerId of ids) await producers.refresh(customerId, 'bench', 'routine');
  const env = {
    REDIS_URL: redisServer.url,
    REDIS_KEY_PREFIX: prefix,
    STRIPE_API_BASE: double.url,
    STRIPE_API_RATE_LIMIT: String(limit),
    WORKER_CONCURRENCY: '8',
    LOG_LEVEL: 'info',
  };
  workers.push(startWorkerProcess(env), startWorkerProcess(env));
  await Promise.all(workers.map((w) => w.ready));

  // When each share of the backlog was current: the budget bounds the rate while the backlog lasts; the
  // last customers then wait out their own backoff after refusal upon refusal. Polled with one cheap
  // command: this process is also the Stripe double, whose clock the windows are measured on.
  const shares = [0.5, 0.9, 1];
  const reached = new Map<number, number>();
  await waitFor(
    async () => {
      const { completed = 0 } = await queues.customerSync.getJobCounts('completed');
      for (const share of shares) if (!reached.has(share) && completed >= share * ids.length) reached.set(share, Date.now());
      return completed === ids.length;
    },
    { timeoutMs: 600_000, intervalMs: 200, message: 'every refresh done' },
  );
  const store = createSubscriberStore({ redis, prefix });
  const written = (await Promise.all(Array.from({ length: Math.ceil(ids.length / 500) }, (_, i) => store.readMany(ids.slice(i * 500, i * 500 + 500))))).flat();
  if (written.length !== ids.length) throw new Error(`${ids.length - written.length} customers were never written`);

  const at = double.requests.map((r) => r.at);
  const first = Math.min(...at);
  const during = (until: number) => {
    const sent = double.requests.filter((r) => r.at <= until);
    const seconds = (until - first) / 1000;
    return `${(sent.length / seconds).toFixed(1)}/s (${(sent.filter((r) => r.status === 200).length / seconds).toFixed(1)}/s answered 200)`;
  };
  const secondsTo = (share: number) => ((reached.get(share)! - first) / 1000).toFixed(1);
  console.log(
    [
      `${customers} customers, STRIPE_API_RATE_LIMIT=${limit}, ${Math.round(faults * 100)} % of requests answered 429, 2 worker processes x 8`,
      `  Stripe requests         ${at.length} (${double.requests.filter((r) => r.status === 429).length} refused with 429)`,
      `  requests/s to 90 %      ${during(reached.get(0.9)!)}`,
      `  requests/s to the end   ${during(reached.get(1)!)}`,
      `  busiest second          ${maxInAnyWindow(at)} requests (${(maxInAnyWindow(at) / limit).toFixed(2)} x the limit)`,
      `  customers current       50 % after ${secondsTo(0.5)} s, 90 % after ${secondsTo(0.9)} s, all after ${secondsTo(1)} s`,
    ].join('\n'),
  );
} finally {
  await Promise.all(workers.map((w) => w.stop()));
  await Promise.all([queues.close(), opsQueues.close()]);
  await redis.quit();
  await double.close();
  await redisServer.stop();
}
