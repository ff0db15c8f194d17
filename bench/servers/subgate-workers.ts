/**
 * The real workers (src/composition.ts, as the worker process builds them: refreshes with the hook after
 * a write, card expiry, notices to the log transport) against the bench Redis and the Stripe double the
 * orchestrator hosts. It is built on 'start', so the orchestrator can enqueue a
 * backlog first; 'drain' waits until every expected event is done and both queues are empty.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/logger.js';
import { systemClock } from '../../src/runtime.js';
import { createWorkerConnection, waitUntilReady } from '../../src/store/redis-connections.js';
import { createMailer } from '../../src/adapters/mailer.js';
import { buildServices, buildWorkers, type Workers } from '../../src/composition.js';
import { benchConfig } from '../lib/bench-config.js';
import { answerOrchestrator, memory, ready, requireEnv } from '../lib/child.js';

const prefix = requireEnv('BENCH_PREFIX');
const logger = createLogger('warn');
const redisUrl = requireEnv('BENCH_REDIS_URL');
const connection = createWorkerConnection(redisUrl);
connection.on('error', () => {});
await waitUntilReady(connection);
const apiBase = requireEnv('STRIPE_API_BASE');
const mailer = createMailer({ smtpUrl: undefined, from: 'Bench <bench@bench.test>', logger });

const done = { events: 0, eventsFailed: 0, syncs: 0, syncsFailed: 0 };
let workers: Workers | null = null;
let services: ReturnType<typeof buildServices> | null = null;
let startedAt = 0;

const BUSY = ['waiting', 'delayed', 'prioritized', 'active', 'waiting-children'] as const;
async function idle(): Promise<boolean> {
  if (!services) return false;
  const [events, syncs] = await Promise.all([services.queues.stripeEvents.getJobCounts(...BUSY), services.queues.customerSync.getJobCounts(...BUSY)]);
  return Object.values(events).every((n) => n === 0) && Object.values(syncs).every((n) => n === 0);
}

answerOrchestrator(
  {
    start(message) {
      startedAt = performance.now();
      const config = benchConfig({
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: prefix,
        STRIPE_API_BASE: apiBase,
        STRIPE_API_RATE_LIMIT: String(message.stripeRequestsPerSecond),
        SYNC_DEBOUNCE_MS: String(message.debounceMs),
        WORKER_CONCURRENCY: String(message.concurrency),
      });
      services = buildServices(config, { redis: connection, clock: systemClock, logger, mailer });
      workers = buildWorkers(services);
      workers.workers.eventWorker.on('completed', () => done.events++);
      workers.workers.eventWorker.on('failed', () => done.eventsFailed++);
      workers.workers.syncWorker.on('completed', () => done.syncs++);
      workers.workers.syncWorker.on('failed', () => done.syncsFailed++);
      return {};
    },
    async drain(message) {
      const expectedEvents = Number(message.expectedEvents);
      const deadline = performance.now() + Number(message.timeoutMs);
      for (;;) {
        if (done.events + done.eventsFailed >= expectedEvents && (await idle())) break;
        if (performance.now() > deadline) return { timedOut: true, elapsedMs: performance.now() - startedAt, ...done, ...memory() };
        await sleep(20);
      }
      return { timedOut: false, elapsedMs: performance.now() - startedAt, ...done, ...memory() };
    },
  },
  async () => {
    await workers?.close();
    await services?.close();
    mailer.close();
    await connection.quit();
  },
);
ready();
