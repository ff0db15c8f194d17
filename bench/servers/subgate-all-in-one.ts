/**
 * `npm start` as the bench runs it: the API side and the worker side in one process (openApiSide +
 * openWorkerSide, as src/main.ts wires them with --with-workers), its Config from the bench's environment
 * (Stripe at the orchestrator's double). The orchestrator queues a backlog and a sweep before it starts,
 * so the workers drain them while the entitlement check is measured. 'loop' answers the event-loop delay
 * (monitorEventLoopDelay) since the last ask.
 */
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createLogger } from '../../src/logger.js';
import { systemClock } from '../../src/runtime.js';
import { openApiSide, openWorkerSide } from '../../src/composition.js';
import { benchConfig } from '../lib/bench-config.js';
import { requireEnv, serve } from '../lib/child.js';

const config = benchConfig({
  REDIS_URL: requireEnv('BENCH_REDIS_URL'),
  REDIS_KEY_PREFIX: requireEnv('BENCH_PREFIX'),
  STRIPE_WEBHOOK_SECRET: requireEnv('BENCH_WEBHOOK_SECRET'),
  ENTITLEMENT_API_TOKENS: requireEnv('BENCH_TOKEN'),
  STRIPE_API_BASE: requireEnv('STRIPE_API_BASE'),
  STRIPE_API_RATE_LIMIT: process.env.BENCH_STRIPE_RATE ?? '10000',
  LOG_LEVEL: 'warn',
});
const logger = createLogger('warn');
const api = await openApiSide(config, logger, systemClock);
const workers = await openWorkerSide(config, logger, systemClock, api.metrics);
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();

await serve(
  createServer(api.app),
  {
    loop: () => {
      const reply = { p50Ms: loop.percentile(50) / 1e6, p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 };
      loop.reset();
      return reply;
    },
  },
  async () => {
    for (const step of [...workers.shutdownSteps, ...api.shutdownSteps]) await Promise.resolve().then(step.run).catch(() => undefined);
  },
);
