/**
 * The card-expiry sweep, measured in its own compiled process (see bench/lib/expiry-sweep.ts): on 'run' it
 * seeds a throwaway Redis, starts the real card-expiry worker, queues the sweep job and reports how long
 * the expired cards took to be flagged. The Stripe re-read goes to STRIPE_API_BASE (the Stripe double the
 * orchestrator hosts) through the SDK, or to an in-process stub when that is not set.
 */
import { createStripeBilling } from '../../src/adapters/stripe-billing.js';
import { createStripeClient } from '../../src/adapters/stripe-gateway.js';
import { createWorkerConnection } from '../../src/store/redis-connections.js';
import { createStripeRequestBudget } from '../../src/store/stripe-request-budget.js';
import { measureExpirySweep } from '../lib/expiry-sweep.js';
import { answerOrchestrator, ready, requireEnv } from '../lib/child.js';

const redisUrl = requireEnv('BENCH_REDIS_URL');
const apiBase = process.env.STRIPE_API_BASE;
// The re-reads go through a request budget as in production, set high: this measures the sweep, not Stripe.
const budget = () => createStripeRequestBudget({ redis: createWorkerConnection(redisUrl, 'bench-sweep-budget'), prefix: 'bench-sweep', requestsPerSecond: 10_000 });
const billing = apiBase ? createStripeBilling(createStripeClient({ secretKey: 'sk_test_bench', apiBase, budget: budget() })) : null;

answerOrchestrator({
  run: (message) =>
    measureExpirySweep({
      redisUrl,
      subscribers: Number(message.subscribers),
      billing,
      concurrency: Number(message.concurrency),
      timeoutMs: Number(message.timeoutMs),
      log: (text) => console.error(`subgate-sweep: ${text}`),
    }),
});
ready();
