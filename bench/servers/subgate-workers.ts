/**
 * The real worker set (createWorkerSet, as workers/main.ts wires it) against the bench Redis and the
 * Stripe double the orchestrator hosts. It is built on 'start', so the orchestrator can enqueue a
 * backlog first; 'drain' waits until every expected event is done and both queues are empty.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/logger.js';
import { createQueues } from '../../src/queues.js';
import { systemClock } from '../../src/runtime.js';
import { createWorkerConnection, waitUntilReady } from '../../src/store/redis-connections.js';
import { createSubscriberStore } from '../../src/store/subscriber-store.js';
import { createEventLedger } from '../../src/store/event-ledger.js';
import { createStripeClient, createStripeGateway } from '../../src/adapters/stripe-gateway.js';
import { createStripeRequestBudget } from '../../src/store/stripe-request-budget.js';
import { createCustomerSync } from '../../src/sync/customer-sync.js';
import { createWorkerSet, type WorkerSet } from '../../workers/worker-set.js';
import { answerOrchestrator, memory, ready, requireEnv } from '../lib/child.js';

const prefix = requireEnv('BENCH_PREFIX');
const logger = createLogger('warn');
const connection = createWorkerConnection(requireEnv('BENCH_REDIS_URL'));
connection.on('error', () => {});
await waitUntilReady(connection);
const queues = createQueues(connection, prefix);
const store = createSubscriberStore({ redis: connection, prefix });
const ledger = createEventLedger({ redis: connection, prefix });
const apiBase = requireEnv('STRIPE_API_BASE');

const done = { events: 0, eventsFailed: 0, syncs: 0, syncsFailed: 0 };
let workers: WorkerSet | null = null;
let startedAt = 0;

const BUSY = ['waiting', 'delayed', 'prioritized', 'active', 'waiting-children'] as const;
async function idle(): Promise<boolean> {
  const [events, syncs] = await Promise.all([queues.stripeEvents.getJobCounts(...BUSY), queues.customerSync.getJobCounts(...BUSY)]);
  return Object.values(events).every((n) => n === 0) && Object.values(syncs).every((n) => n === 0);
}

answerOrchestrator(
  {
    start(message) {
      startedAt = performance.now();
      const budget = createStripeRequestBudget({ redis: connection, prefix, requestsPerSecond: Number(message.stripeRequestsPerSecond) });
      const stripe = createStripeGateway(createStripeClient({ secretKey: 'sk_test_bench', apiBase, budget }));
      const syncCustomer = createCustomerSync({ stripe, store, clock: systemClock, userIdMetadataKey: 'user_id', logger });
      workers = createWorkerSet({
        connection,
        prefix,
        queues,
        ledger,
        syncCustomer,
        clock: systemClock,
        logger,
        debounceMs: Number(message.debounceMs),
        concurrency: Number(message.concurrency),
      });
      workers.eventWorker.on('completed', () => done.events++);
      workers.eventWorker.on('failed', () => done.eventsFailed++);
      workers.syncWorker.on('completed', () => done.syncs++);
      workers.syncWorker.on('failed', () => done.syncsFailed++);
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
    await queues.close();
    await connection.quit();
  },
);
ready();
