/**
 * A resync wired from a harness's parts, as the worker process wires it: the real SDK on the Stripe
 * double, the worker side's snapshot writer (with its after-write hook, as every refresh writes), and a
 * checkpoint store under the harness's prefix. Backoff sleeps are shortened, not skipped.
 */
import { createResyncRunner, type ResyncDeps, type RunResync } from '../../src/operations/resync-runner.js';
import { createStripeLists } from '../../src/adapters/stripe-lists.js';
import { createResyncStore, type ResyncStore } from '../../src/store/resync-store.js';
import { createSilentLogger } from '../../src/logger.js';
import type { Harness } from './harness.js';
import { seedReader } from './readers.js';

export function createTestResync(h: Harness, overrides: Partial<ResyncDeps> = {}): { run: RunResync; checkpoints: ResyncStore } {
  const checkpoints = createResyncStore({ redis: h.workerRedis, prefix: h.prefix });
  const run = createResyncRunner({
    source: createStripeLists(h.worker.stripe),
    store: h.worker.store,
    writeSnapshot: h.worker.writeSnapshot,
    checkpoints,
    clock: h.clock,
    logger: createSilentLogger(),
    userIdMetadataKey: 'user_id',
    requestsPerSecond: 10_000,
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 50 },
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
