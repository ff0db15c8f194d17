/**
 * The client-cache figures, on the content-gate stack (examples/content-service/stack.ts) in this process:
 * subgate's real app on a listening port, its real workers, the Stripe double, and one
 * `createEntitlementClient` with its cache and live subscription to GET /v1/entitlements/events.
 *
 * - Warm check(): readers already in the client's cache, asked one after another (`await check()` each,
 *   as a request handler would) for a bounded time; every answer must come from the cache and no HTTP
 *   call may be made. For comparison the same checks through a client with `cache: false` (every check
 *   one HTTP call to the in-process subgate, 50 loops at once) are measured in the same step.
 * - Invalidation lag: a subscriber's card has expired (the card-expiry job fired at the expiry instant and
 *   the renewal was declined, signed charge.failed) and the client holds the card_expired answer. The
 *   reader saves a new card in Stripe and subgate hears a signed customer.updated webhook through the real
 *   webhook route; the workers re-read Stripe, the projection turns active and the entitlement feed
 *   publishes the change (one Lua script: XADD + PUBLISH). The lag runs from that publication, taken as
 *   the stream entry's id time (Redis's own clock at XADD, ms), to the client's onChange hook, which the
 *   client calls right after dropping the cached answers the change touched (Date.now(), same host clock).
 *   Each trial then checks that the next check() goes to the network and answers entitled.
 *   A bench subscriber on the pub/sub channel also records when it saw each publication, to split the lag.
 */
import { entitlementStreamKeys } from '../../src/store/entitlement-feed.js';
import { Redis } from 'ioredis';
import type { EntitlementChangeEvent } from '@subgate/client';
import { createEntitlementClient } from '@subgate/client';
import { API_TOKEN } from '../../test/support/harness.js';
import { seedSubscriber, type Subscriber } from '../../test/support/card-scenarios.js';
import { startContentGateStack } from '../../examples/content-service/stack.js';

export interface ClientCacheOptions {
  redisUrl: string;
  /** Readers cached for the warm figure. */
  readers: number;
  warmMs: number;
  /** Concurrent loops of the uncached comparison. */
  uncachedConcurrency: number;
  trials: number;
  /** Per-trial bound on waiting for the change to reach the client. */
  trialTimeoutMs: number;
}

export interface ClientCacheFigures {
  readers: number;
  warmCalls: number;
  warmMs: number;
  warmCallsPerSecond: number;
  /** HTTP calls the client made during the warm loop (must be 0) and answers not from the cache. */
  warmRequests: number;
  warmNotCached: number;
  uncachedCalls: number;
  uncachedMs: number;
  uncachedCallsPerSecond: number;
  uncachedConcurrency: number;
  trials: number;
  /** XADD (stream id time) -> client dropped its cached answer, ms, one per completed trial. */
  lagsMs: number[];
  /** XADD -> the bench's pub/sub subscriber saw the message, ms (same clocks as lagsMs). */
  pubsubSeenMs: number[];
  /** The bench's pub/sub subscriber saw it -> client dropped, ms (performance.now(), one process). */
  pubsubToDropMs: number[];
  /** Trials whose next check() was not a network call answering entitled. */
  badFollowUps: number;
  setupMs: number;
  problems: string[];
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Drop {
  change: EntitlementChangeEvent;
  wallMs: number;
  perfMs: number;
}

const streamIdMs = (id: string) => Number(id.slice(0, id.indexOf('-')));

export async function measureClientCache(options: ClientCacheOptions, log: (text: string) => void): Promise<ClientCacheFigures> {
  const problems: string[] = [];
  const setupStarted = performance.now();
  // Waiters for the next change of a customer the client applies, resolved from its onChange hook.
  const waiters = new Map<string, (drop: Drop) => void>();
  const stack = await startContentGateStack({
    redisUrl: options.redisUrl,
    client: {
      cache: { ttlMs: 10 * 60_000 },
      onChange(change) {
        const wallMs = Date.now();
        const perfMs = performance.now();
        waiters.get(change.customer)?.({ change, wallMs, perfMs });
      },
    },
  });
  const { h, client } = stack;
  const streamKey = entitlementStreamKeys(h.prefix).stream;
  const observer = new Redis(options.redisUrl, { connectionName: 'bench-change-observer', maxRetriesPerRequest: null });
  observer.on('error', () => {});
  const seen = new Map<string, number>();
  observer.on('message', (_channel: string, message: string) => {
    const perfMs = performance.now();
    try {
      const change = JSON.parse(message) as { customer: string; version: number };
      seen.set(`${change.customer}:${change.version}`, perfMs);
    } catch {
      // not a change
    }
  });
  const uncached = createEntitlementClient({ baseUrl: stack.subgateUrl, token: API_TOKEN, cache: false });
  try {
    await observer.subscribe(streamKey);
    await client.whenLive();

    // Warm readers: active subscribers synced straight from the Stripe double.
    const users: string[] = [];
    for (let i = 0; i < options.readers; i++) {
      const user = `cache-reader-${i}`;
      await seedSubscriber(h, { exp_month: 12, exp_year: 2035, user });
      users.push(user);
    }
    for (const user of users) {
      const answer = await client.checkUser(user);
      if (answer.status !== 'active') problems.push(`client cache: ${user} answered ${answer.status} when priming`);
    }

    // Lag subscribers: subscribed by a signed webhook, then their card expires (job + declined renewal).
    const subs: Array<{ user: string; sub: Subscriber }> = [];
    for (let i = 0; i < options.trials; i++) {
      const user = `lag-reader-${i}`;
      subs.push({ user, sub: await stack.subscribe(user) });
    }
    for (const { sub } of subs) await stack.expireCard(sub);
    await h.settle();
    const setupMs = performance.now() - setupStarted;
    log(`client cache: ${options.readers} cached readers and ${options.trials} expired subscribers set up in ${(setupMs / 1000).toFixed(1)} s`);

    // Warm check(): a short warm-up of the loop, then the bounded measurement.
    const warmLoop = async (ms: number) => {
      let calls = 0;
      let notCached = 0;
      const started = performance.now();
      const deadline = started + ms;
      for (;;) {
        for (let i = 0; i < 1024; i++) {
          const answer = await client.checkUser(users[calls % users.length]!);
          if (answer.source !== 'cache') notCached++;
          calls++;
        }
        if (performance.now() >= deadline) break;
      }
      return { calls, notCached, ms: performance.now() - started };
    };
    await warmLoop(Math.min(500, options.warmMs / 4));
    const before = client.stats();
    const warm = await warmLoop(options.warmMs);
    const warmRequests = client.stats().requests - before.requests;
    if (warmRequests > 0 || warm.notCached > 0) problems.push(`client cache: the warm loop made ${warmRequests} HTTP calls and got ${warm.notCached} answers not from the cache`);
    log(`client cache: ${(warm.calls / (warm.ms / 1000)).toFixed(0)} warm check() calls/s (${warm.calls} calls, ${warmRequests} HTTP calls)`);

    // The same checks without the cache: every check is one HTTP call to subgate.
    let uncachedCalls = 0;
    let uncachedWrong = 0;
    const uncachedStarted = performance.now();
    const uncachedDeadline = uncachedStarted + options.warmMs;
    await Promise.all(
      Array.from({ length: options.uncachedConcurrency }, async (_, loop) => {
        let i = loop;
        while (performance.now() < uncachedDeadline) {
          const answer = await uncached.checkUser(users[i % users.length]!);
          if (answer.source !== 'network' || answer.status !== 'active') uncachedWrong++;
          uncachedCalls++;
          i += options.uncachedConcurrency;
        }
      }),
    );
    const uncachedMs = performance.now() - uncachedStarted;
    if (uncachedWrong > 0) problems.push(`client cache: ${uncachedWrong} uncached checks were not network answers saying active`);
    log(`client cache: ${(uncachedCalls / (uncachedMs / 1000)).toFixed(0)} uncached check() calls/s (${options.uncachedConcurrency} loops)`);

    // Invalidation lag.
    const lagsMs: number[] = [];
    const pubsubSeenMs: number[] = [];
    const pubsubToDropMs: number[] = [];
    let badFollowUps = 0;
    for (const { user, sub } of subs) {
      const cachedFirst = await client.checkUser(user);
      const cached = await client.checkUser(user);
      if (cached.source !== 'cache' || cached.status !== 'card_expired') {
        problems.push(`client cache: ${user} was ${cached.source}/${cached.status} before the fix (first ${cachedFirst.source}/${cachedFirst.status})`);
        continue;
      }
      const dropped = new Promise<Drop>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(sub.customerId);
          reject(new Error(`no entitled change for ${sub.customerId} within ${options.trialTimeoutMs} ms`));
        }, options.trialTimeoutMs);
        waiters.set(sub.customerId, (drop) => {
          if (!drop.change.next.entitled) return; // not the fix; keep waiting
          clearTimeout(timer);
          waiters.delete(sub.customerId);
          resolve(drop);
        });
      });
      dropped.catch(() => undefined);
      await stack.replaceCard(sub, { webhook: true });
      let drop: Drop;
      try {
        drop = await dropped;
      } catch (err) {
        problems.push(`client cache: ${(err as Error).message}`);
        continue;
      }
      const next = await client.checkUser(user);
      if (next.source !== 'network' || !next.entitled) badFollowUps++;

      const entries = await h.apiRedis.xrevrange(streamKey, '+', '-', 'COUNT', 200);
      const entry = entries.find(([, fields]) => {
        const text = fields[fields.indexOf('change') + 1];
        if (!text) return false;
        const change = JSON.parse(text) as { customer: string; version: number };
        return change.customer === drop.change.customer && change.version === drop.change.version;
      });
      if (!entry) {
        problems.push(`client cache: no stream entry for ${drop.change.customer} version ${drop.change.version}`);
        continue;
      }
      const publishedMs = streamIdMs(entry[0]);
      lagsMs.push(drop.wallMs - publishedMs);
      const seenAt = seen.get(`${drop.change.customer}:${drop.change.version}`);
      if (seenAt !== undefined) {
        pubsubSeenMs.push(drop.wallMs - publishedMs - (drop.perfMs - seenAt));
        pubsubToDropMs.push(drop.perfMs - seenAt);
      }
      await h.settle();
    }
    if (badFollowUps > 0) problems.push(`client cache: ${badFollowUps} trials' next check() was not a network call answering entitled`);
    log(
      `client cache: invalidation lag over ${lagsMs.length} trials: p50 ${percentile(lagsMs, 50)} ms, p99 ${percentile(lagsMs, 99)} ms, max ${Math.max(...lagsMs)} ms`,
    );
    return {
      readers: options.readers,
      warmCalls: warm.calls,
      warmMs: warm.ms,
      warmCallsPerSecond: warm.calls / (warm.ms / 1000),
      warmRequests,
      warmNotCached: warm.notCached,
      uncachedCalls,
      uncachedMs,
      uncachedCallsPerSecond: uncachedCalls / (uncachedMs / 1000),
      uncachedConcurrency: options.uncachedConcurrency,
      trials: options.trials,
      lagsMs,
      pubsubSeenMs,
      pubsubToDropMs,
      badFollowUps,
      setupMs,
      problems,
    };
  } finally {
    await uncached.close();
    observer.disconnect();
    await stack.close();
  }
}
