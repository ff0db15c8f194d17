/**
 * The resync: rebuilds every projection from Stripe in two passes over Stripe's list streams, with no
 * per-customer request. Pass one stages every subscription (digested) by customer; pass two walks the
 * customers a page at a time and writes each projection through the same guarded writer as syncCustomer
 * (projectCustomer + writeSnapshot, with its after-write hook), so cards get the same schedule and flags.
 *
 * Every projection of a run carries the instant pass one began: the oldest read it is made of. A webhook
 * refresh that read Stripe after that instant wins over it, so a resync racing live traffic never rolls
 * state back. The checkpoint moves after each page; a run that stops (crash, deploy, 429 storm) resumes
 * at its last page. Pages are paced to a request budget; 429s and 5xx back off exponentially.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Clock, CustomerProjection } from '../domain/projection.js';
import type { StripeCustomerLike, StripeSubscriptionLike } from '../domain/stripe-shapes.js';
import { projectCustomer, soldProducts } from '../domain/stripe-projection.js';
import type { ProductCatalog } from '../sync/product-catalog.js';
import { digestSubscription, subscriptionCustomerId } from '../domain/subscription-digest.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { ResyncCheckpoint, ResyncStore } from '../store/resync-store.js';
import { STRIPE_PAGE_SIZE, isStripeTransient, type StripeLists } from '../adapters/stripe-lists.js';
import type { WriteSnapshot } from '../sync/snapshot-writer.js';

export interface ResyncRetry {
  /** Consecutive transient failures tolerated before the run stops (it can be resumed). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface ResyncDeps {
  source: Pick<StripeLists, 'customers' | 'subscriptions'>;
  store: Pick<SubscriberStore, 'readMany' | 'readInstant'>;
  /** The guarded write and its after-write hook, as every refresh writes. */
  writeSnapshot: WriteSnapshot;
  checkpoints: ResyncStore;
  clock: Clock;
  logger: Logger;
  userIdMetadataKey: string;
  /** Stripe list requests per second (one per page of 100). */
  requestsPerSecond: number;
  /** Customers of a page written at once. */
  concurrency?: number;
  retry?: ResyncRetry;
  sleep?: (ms: number) => Promise<void>;
  /**
   * The product catalog, when features or product names are configured: a new run clears it, so each
   * product is read from Stripe once during the run (not once per customer).
   */
  catalog?: Pick<ProductCatalog, 'productsFor' | 'expireAll'> | null;
}

export interface ResyncOptions {
  /** Start over even if an unfinished run exists. */
  fresh?: boolean;
  /** Called after every page with the saved checkpoint (progress bars, BullMQ job progress). */
  onProgress?: (checkpoint: Readonly<ResyncCheckpoint>) => void | Promise<void>;
  /** Checked between pages; an aborted run keeps its checkpoint and can be resumed. */
  signal?: AbortSignal;
  /**
   * ms; when this resync was asked for. A run that began at or after it and has finished already answers
   * the request (a job retried after another worker completed it does not start a whole new run).
   */
  requestedAt?: number;
}

export interface ResyncSummary extends ResyncCheckpoint {
  resumed: boolean;
  /** Wall-clock ms this call ran (not the whole run when it was resumed). */
  elapsed_ms: number;
}

export type RunResync = (options?: ResyncOptions) => Promise<ResyncSummary>;

const DEFAULT_RETRY: ResyncRetry = { attempts: 8, baseDelayMs: 1000, maxDelayMs: 30_000 };

/** Another process is running a resync right now; try again once it is done. */
export class ResyncBusyError extends Error {
  constructor() {
    super('another resync is running; this one waits for it');
    this.name = 'ResyncBusyError';
  }
}

/** The lease ran out while this run worked (e.g. the process stalled) and another run may hold it now. */
export class ResyncLeaseLostError extends Error {
  constructor() {
    super('this resync lost its lease to another run and stopped');
    this.name = 'ResyncLeaseLostError';
  }
}

/** How long a resync's lease lasts without renewal; renewed every quarter of it and before every page. */
const LEASE_MS = 60_000;

export class ResyncStoppedError extends Error {
  constructor(readonly checkpoint: ResyncCheckpoint) {
    super(`resync stopped in phase ${checkpoint.phase} after ${checkpoint.cursor ?? 'its start'}; it resumes from there`);
    this.name = 'ResyncStoppedError';
  }
}

export function createResyncRunner(deps: ResyncDeps): RunResync {
  const log = deps.logger.child({ component: 'resync' });
  const retry = deps.retry ?? DEFAULT_RETRY;
  const sleep = deps.sleep ?? ((ms: number) => delay(ms));
  const concurrency = Math.max(1, deps.concurrency ?? 16);
  const pageIntervalMs = 1000 / Math.max(0.001, deps.requestsPerSecond);

  return async function runResync(options = {}) {
    const owner = randomUUID();
    if (!(await deps.checkpoints.acquireLease(owner, LEASE_MS))) throw new ResyncBusyError();
    let leaseLost = false;
    const renewal = setInterval(() => {
      deps.checkpoints.renewLease(owner, LEASE_MS).then(
        (held) => {
          if (!held) leaseLost = true;
        },
        () => undefined,
      );
    }, LEASE_MS / 4);
    renewal.unref();
    try {
      return await runLeased(options, async () => {
        if (leaseLost || !(await deps.checkpoints.renewLease(owner, LEASE_MS))) throw new ResyncLeaseLostError();
      });
    } finally {
      clearInterval(renewal);
      await deps.checkpoints.releaseLease(owner).catch(() => undefined);
    }
  };

  async function runLeased(options: ResyncOptions, holdLease: () => Promise<void>): Promise<ResyncSummary> {
    const started = performance.now();
    const existing = await deps.checkpoints.current();
    if (existing?.phase === 'done' && options.requestedAt !== undefined && existing.started_at >= options.requestedAt && !options.fresh) {
      return { ...existing, resumed: false, elapsed_ms: performance.now() - started };
    }
    const { checkpoint: cp, resumed } = await openRun(options.fresh === true);
    log.info({ runId: cp.run_id, phase: cp.phase, cursor: cp.cursor, resumes: cp.resumes }, 'resync starting');
    let lastPageAt = -Infinity;

    // Walks one list stream from the checkpoint's cursor, a page at a time, re-opening it after a transient
    // failure (with backoff) at the last page that was handled.
    async function walk<T extends { id: string }>(open: (cursor: string | null) => AsyncIterable<T>, handle: (page: T[]) => Promise<void>) {
      let failures = 0;
      for (;;) {
        try {
          await pace();
          let page: T[] = [];
          for await (const item of open(cp.cursor)) {
            page.push(item);
            if (page.length === STRIPE_PAGE_SIZE) {
              await finishPage(page, handle);
              failures = 0;
              page = [];
              await pace();
            }
          }
          if (page.length > 0) await finishPage(page, handle);
          return;
        } catch (err) {
          if (!isStripeTransient(err)) throw err;
          failures += 1;
          cp.retries += 1;
          if ((err as { type?: string }).type === 'StripeRateLimitError' || (err as { statusCode?: number }).statusCode === 429) cp.rate_limited += 1;
          await deps.checkpoints.save(cp);
          if (failures > retry.attempts) throw err;
          const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (failures - 1));
          log.warn({ runId: cp.run_id, phase: cp.phase, failures, backoffMs: backoff, reason: (err as Error).message }, 'Stripe refused a page; backing off');
          await sleep(backoff);
        }
      }
    }

    async function finishPage<T extends { id: string }>(page: T[], handle: (page: T[]) => Promise<void>) {
      await holdLease();
      await handle(page);
      cp.cursor = page[page.length - 1]!.id;
      await deps.checkpoints.save(cp);
      await options.onProgress?.(cp);
      if (options.signal?.aborted) throw new ResyncStoppedError({ ...cp });
    }

    async function pace() {
      const wait = lastPageAt + pageIntervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      lastPageAt = performance.now();
    }

    if (cp.phase === 'subscriptions') {
      await walk((cursor) => deps.source.subscriptions(cursor), stageSubscriptions);
      cp.phase = 'customers';
      cp.cursor = null;
      await deps.checkpoints.save(cp);
      await options.onProgress?.(cp);
    }
    if (cp.phase === 'customers') {
      await walk((cursor) => deps.source.customers(cursor), writeCustomers);
      cp.phase = 'done';
      cp.cursor = null;
      cp.finished_at = deps.clock.now();
      await deps.checkpoints.save(cp);
      await deps.checkpoints.dropStaging(cp.run_id);
      await options.onProgress?.(cp);
    }
    const elapsed = performance.now() - started;
    log.info({ runId: cp.run_id, customers: cp.customers, written: cp.written, stale: cp.stale, retries: cp.retries, elapsedMs: Math.round(elapsed) }, 'resync finished');
    return { ...cp, resumed, elapsed_ms: elapsed };

    async function stageSubscriptions(page: StripeSubscriptionLike[]) {
      const byCustomer = new Map<string, Map<string, string>>();
      for (const subscription of page) {
        const customerId = subscriptionCustomerId(subscription);
        if (!customerId) continue;
        const subs = byCustomer.get(customerId) ?? new Map<string, string>();
        subs.set(subscription.id, JSON.stringify(digestSubscription(subscription)));
        byCustomer.set(customerId, subs);
      }
      await deps.checkpoints.stage(cp.run_id, byCustomer);
      cp.subscriptions += page.length;
    }

    async function writeCustomers(page: StripeCustomerLike[]) {
      const ids = page.map((customer) => customer.id);
      const [staged, states] = await Promise.all([deps.checkpoints.staged(cp.run_id, ids), deps.store.readMany(ids)]);
      const previousOf = new Map(states.map((state) => [state.projection.customer, state.projection]));
      const results = await mapLimit(page, concurrency, async (customer) => {
        const previous: CustomerProjection | null = previousOf.get(customer.id) ?? null;
        const subscriptions = (staged.get(customer.id) ?? []).map((json) => JSON.parse(json) as StripeSubscriptionLike);
        const products = deps.catalog ? await deps.catalog.productsFor(soldProducts(subscriptions)) : undefined;
        const next = projectCustomer({ customer, subscriptions, readAt: cp.read_at, userIdMetadataKey: deps.userIdMetadataKey, previous, ...(products ? { products } : {}) });
        return deps.writeSnapshot(next, previous, cp.read_order ?? cp.read_at * 1000);
      });
      cp.customers += page.length;
      for (const result of results) cp[result] += 1;
    }
  }

  async function openRun(fresh: boolean): Promise<{ checkpoint: ResyncCheckpoint; resumed: boolean }> {
    const existing = await deps.checkpoints.current();
    if (existing && existing.phase !== 'done' && !fresh) {
      existing.resumes += 1;
      await deps.checkpoints.save(existing);
      return { checkpoint: existing, resumed: true };
    }
    if (existing && existing.phase !== 'done') await deps.checkpoints.dropStaging(existing.run_id);
    const now = deps.clock.now();
    const checkpoint: ResyncCheckpoint = {
      run_id: randomUUID().replaceAll('-', ''),
      phase: 'subscriptions',
      cursor: null,
      started_at: now,
      read_at: now,
      read_order: await deps.store.readInstant(`resync-${now}`),
      finished_at: null,
      resumes: 0,
      subscriptions: 0,
      customers: 0,
      written: 0,
      stale: 0,
      retries: 0,
      rate_limited: 0,
    };
    await deps.checkpoints.save(checkpoint);
    await deps.catalog?.expireAll();
    return { checkpoint, resumed: false };
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}
