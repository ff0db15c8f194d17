/**
 * A resync wired from a harness's parts, as the worker process wires it: the real SDK on the Stripe
 * double, the subscriber store, a checkpoint store under the harness's prefix, and (when the harness has
 * card expiry) the same afterWrite hook syncCustomer uses. Backoff sleeps are shortened, not skipped.
 */
import { createBackfillRunner, type BackfillDeps, type RunBackfill } from '../../src/backfill/backfill-runner.js';
import { createStripeListSource } from '../../src/adapters/stripe-backfill.js';
import { createBackfillStore, type BackfillStore } from '../../src/store/backfill-store.js';
import { createSilentLogger } from '../../src/logger.js';
import { createSubscriberStore } from '../../src/store/subscriber-store.js';
import type { Harness } from './harness.js';
import { seedReader } from './readers.js';

export function createTestBackfill(h: Harness, overrides: Partial<BackfillDeps> = {}): { run: RunBackfill; checkpoints: BackfillStore } {
  const checkpoints = createBackfillStore({ redis: h.workerRedis, prefix: h.prefix });
  const run = createBackfillRunner({
    source: createStripeListSource(h.stripeClient),
    store: createSubscriberStore({ redis: h.workerRedis, prefix: h.prefix }),
    checkpoints,
    clock: h.clock,
    logger: createSilentLogger(),
    userIdMetadataKey: 'user_id',
    requestsPerSecond: 10_000,
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 50 },
    ...(h.expiry ? { afterWrite: h.expiry.afterWrite } : {}),
    ...overrides,
  });
  return { run, checkpoints };
}

/** `count` customers in the double, each with a default card and (but every `noSubscriptionEvery`-th) a subscription. */
export function seedMany(h: Harness, count: number, opts: { nowSeconds: number; noSubscriptionEvery?: number }): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { customer, subscription } = seedReader(h.stripe, { userId: `bulk-${i}`, nowSeconds: opts.nowSeconds });
    if (opts.noSubscriptionEvery && i % opts.noSubscriptionEvery === 0) h.stripe.forget(subscription.id);
    ids.push(customer.id);
  }
  return ids;
}
