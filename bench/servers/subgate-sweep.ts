/**
 * The card-expiry sweep, measured in its own compiled process (see bench/lib/expiry-sweep.ts): on 'run' it
 * seeds a throwaway Redis, starts the real card-expiry worker, queues the sweep job and reports how long
 * the expired cards took to be flagged. The Stripe re-read goes to STRIPE_API_BASE (the Stripe double the
 * orchestrator hosts) through the SDK, or to an in-process stub when that is not set.
 */
import { createStripeBilling } from '../../src/adapters/stripe-billing.js';
import { createStripeClient } from '../../src/adapters/stripe-gateway.js';
import { measureExpirySweep } from '../lib/expiry-sweep.js';
import { answerOrchestrator, ready, requireEnv } from '../lib/child.js';

const redisUrl = requireEnv('BENCH_REDIS_URL');
const apiBase = process.env.STRIPE_API_BASE;
const billing = apiBase ? createStripeBilling(createStripeClient({ secretKey: 'sk_test_bench', apiBase })) : null;

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
