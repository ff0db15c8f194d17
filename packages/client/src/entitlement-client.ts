/**
 * createEntitlementClient: how a content service asks subgate "may this reader see paid content?".
 *
 * - Cache: answers are kept in process (LRU, `maxEntries`) for `ttlMs`, per reader and feature (`check(lookup,
 *   { feature })`); a reader asked about a moment ago costs no network round trip.
 * - Live invalidation: the client follows GET /v1/entitlements/events and drops the cached answers a
 *   change touches (by customer, and by user; for the change's feature and the feature-less answers);
 *   `reset` drops everything. So a reader whose card is fixed
 *   is let in at once, by a cache whose TTL has not run out. While the stream is down the TTL alone bounds
 *   staleness; on reconnect the client resumes with Last-Event-ID and the missed changes are replayed.
 *   When it is too far behind for that, subgate says `reset`; and a resume that keeps ending before it goes
 *   live (`resumeAttempts` in a row) is given up: the cache is dropped and the next stream starts from now.
 * - Coalescing: concurrent asks for one reader share one HTTP call.
 * - Timeouts: every call is bounded by `timeoutMs` (AbortSignal.timeout).
 * - Failure policy: fail closed. When subgate cannot be reached (timeout, refused, 5xx), the answer is
 *   `{ entitled: false, status: 'unavailable' }`, unless `staleIfErrorMs` > 0 and the last known answer
 *   for that reader is younger than that: then it is served with `source: 'stale'`. A 4xx (bad token,
 *   malformed id) is a bug in the caller and throws EntitlementClientError.
 */
import { LruCache } from './lru-cache.js';
import { subscribeSse, type SseSubscription, type SubscriptionState } from './sse.js';
import {
  EntitlementClientError,
  type EntitlementAnswer,
  type EntitlementBody,
  type EntitlementChangeEvent,
  type EntitlementCheck,
  type Lookup,
  type UnavailableAnswer,
} from './types.js';

export interface EntitlementClientOptions {
  /** subgate's base URL, e.g. http://subgate.internal:3000 */
  baseUrl: string;
  /** One of subgate's ENTITLEMENT_API_TOKENS. */
  token: string;
  /** Per-request timeout, ms (default 2000). */
  timeoutMs?: number;
  /** In-process cache; `false` turns it (and the live subscription) off. */
  cache?: { ttlMs?: number; maxEntries?: number } | false;
  /** Serve the last known answer this long (ms since it was fetched) when subgate is unreachable. Default 0: fail closed. */
  staleIfErrorMs?: number;
  /** Follow the change feed to drop changed answers (default true when the cache is on). */
  live?: boolean | { initialBackoffMs?: number; maxBackoffMs?: number; idleTimeoutMs?: number; resumeAttempts?: number };
  /** For tests and custom agents; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Told about live-subscription state changes (for logs and health). */
  onLiveState?: (state: SubscriptionState, detail?: string) => void;
  /** Told about every change event after the cache has dropped what it touched. */
  onChange?: (change: EntitlementChangeEvent) => void;
}

export interface EntitlementClientStats {
  /** Answers served from the cache. */
  hits: number;
  /** Asks that needed subgate (one per coalesced group). */
  requests: number;
  /** Asks that joined an in-flight request instead of making one. */
  coalesced: number;
  /** Stale answers served under staleIfErrorMs. */
  stale: number;
  /** Fail-closed answers. */
  unavailable: number;
  /** Cached answers dropped by change or reset events. */
  invalidated: number;
  size: number;
}

/** What one check asks beyond the reader. */
export interface CheckOptions {
  /** The feature to ask about (sent as `feature=`); absent: the server's DEFAULT_FEATURE. */
  feature?: string;
}

export interface EntitlementClient {
  check(lookup: Lookup, options?: CheckOptions): Promise<EntitlementCheck>;
  /** Shorthand for check({ user }, options). */
  checkUser(userId: string, options?: CheckOptions): Promise<EntitlementCheck>;
  /** Resolves once the live subscription is live (immediately when live is off). */
  whenLive(): Promise<void>;
  readonly liveState: SubscriptionState | 'off';
  stats(): EntitlementClientStats;
  /** Drops every cached answer. */
  clear(): void;
  close(): Promise<void>;
}

interface CacheEntry {
  answer: EntitlementBody;
  fetchedAt: number;
}

interface InFlight {
  promise: Promise<EntitlementCheck>;
  /** Set when a change touched this lookup while the request was out: answer the waiters, cache nothing. */
  superseded: boolean;
  lookup: Lookup;
  feature: string | undefined;
}

const baseOf = (lookup: Lookup) => (lookup.user !== undefined ? `u:${lookup.user}` : `c:${lookup.customer}`);
// The feature is part of the key; a check without one is keyed '' (the server's default, whatever it is),
// so the client needs no server configuration.
const keyOf = (lookup: Lookup, feature: string | undefined) => `${baseOf(lookup)}|${feature ?? ''}`;
const featureOfKey = (key: string) => key.slice(key.lastIndexOf('|') + 1);

/** `ready`'s data says whether the stream resumed from the id the client sent. */
function resumedStream(data: string): boolean {
  try {
    return (JSON.parse(data) as { resumed?: unknown } | null)?.resumed === true;
  } catch {
    return false;
  }
}

const UNAVAILABLE_MESSAGE = 'We could not check your subscription just now. Please try again in a moment.';

export function createEntitlementClient(options: EntitlementClientOptions): EntitlementClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 2000;
  const cacheOn = options.cache !== false;
  const ttlMs = options.cache === false ? 0 : (options.cache?.ttlMs ?? 30_000);
  const staleIfErrorMs = options.staleIfErrorMs ?? 0;
  // Kept past the TTL only when stale answers may be served.
  const keepMs = Math.max(ttlMs, staleIfErrorMs);
  const cache = new LruCache<CacheEntry>(options.cache === false ? 1 : (options.cache?.maxEntries ?? 10_000), (key, entry) =>
    unindex(key, entry),
  );
  const inFlight = new Map<string, InFlight>();
  const counters = { hits: 0, requests: 0, coalesced: 0, stale: 0, unavailable: 0, invalidated: 0 };
  const authorization = `Bearer ${options.token}`;

  function drop(key: string): void {
    const entry = cache.peek(key);
    if (entry) {
      unindex(key, entry);
      cache.delete(key);
      counters.invalidated++;
    }
    const pending = inFlight.get(key);
    if (pending) pending.superseded = true;
  }

  /**
   * A change of one feature drops the answers about that feature and the feature-less ones (whose
   * `features[]` lists it); a change that names no feature (an entry from before features) drops every
   * answer about the reader.
   */
  function invalidate(change: EntitlementChangeEvent): void {
    const feature = typeof change.feature === 'string' ? change.feature : null;
    const touches = (key: string) => feature === null || featureOfKey(key) === '' || featureOfKey(key) === feature;
    for (const base of [`c:${change.customer}`, ...(change.user !== null ? [`u:${change.user}`] : [])]) {
      drop(`${base}|`);
      if (feature !== null) drop(`${base}|${feature}`);
    }
    // A user's answer may come from this customer even when the change names no user (or another one).
    const indexed = byCustomer.get(change.customer);
    for (const key of [...(indexed ?? [])]) if (touches(key)) drop(key);
    if (indexed?.size === 0) byCustomer.delete(change.customer);
    // An in-flight user lookup could be about to return this customer: do not cache what it brings.
    for (const pending of inFlight.values()) if (pending.lookup.user !== undefined) pending.superseded = true;
  }

  /** customer id -> cache keys whose answer names it, so a change finds its user answers in O(1). */
  const byCustomer = new Map<string, Set<string>>();
  function unindex(key: string, entry: CacheEntry): void {
    const customer = entry.answer.customer;
    if (customer === null) return;
    const keys = byCustomer.get(customer);
    keys?.delete(key);
    if (keys?.size === 0) byCustomer.delete(customer);
  }
  function remember(key: string, entry: CacheEntry): void {
    const previous = cache.peek(key);
    if (previous) unindex(key, previous);
    cache.set(key, entry);
    const customer = entry.answer.customer;
    if (customer !== null) {
      let keys = byCustomer.get(customer);
      if (!keys) byCustomer.set(customer, (keys = new Set()));
      keys.add(key);
    }
  }

  function clearAll(): void {
    counters.invalidated += cache.size;
    cache.clear();
    byCustomer.clear();
    for (const pending of inFlight.values()) pending.superseded = true;
  }

  async function fetchAnswer(lookup: Lookup, feature: string | undefined): Promise<EntitlementBody> {
    const who = lookup.user !== undefined ? `user=${encodeURIComponent(lookup.user)}` : `customer=${encodeURIComponent(lookup.customer)}`;
    const query = feature === undefined ? who : `${who}&feature=${encodeURIComponent(feature)}`;
    const res = await doFetch(`${base}/v1/entitlements?${query}`, {
      headers: { Authorization: authorization, Accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (res.status >= 400 && res.status < 500) {
      let code = 'http_error';
      let message = `HTTP ${res.status}`;
      try {
        const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = body.error?.code ?? code;
        message = body.error?.message ?? message;
      } catch {
        // not our error shape; keep the status
      }
      throw new EntitlementClientError(res.status, code, message);
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return JSON.parse(text) as EntitlementBody;
  }

  function unavailable(lookup: Lookup, err: unknown): UnavailableAnswer {
    counters.unavailable++;
    return {
      entitled: false,
      status: 'unavailable',
      source: 'unavailable',
      customer: null,
      user: lookup.user ?? null,
      update_card_url: null,
      message: UNAVAILABLE_MESSAGE,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    };
  }

  async function ask(key: string, lookup: Lookup, pending: InFlight): Promise<EntitlementCheck> {
    counters.requests++;
    try {
      const answer = await fetchAnswer(lookup, pending.feature);
      if (cacheOn && !pending.superseded) remember(key, { answer, fetchedAt: Date.now() });
      return { ...answer, source: 'network' };
    } catch (err) {
      if (err instanceof EntitlementClientError) throw err;
      const last = cache.get(key);
      if (last && staleIfErrorMs > 0 && Date.now() - last.fetchedAt <= staleIfErrorMs) {
        counters.stale++;
        return { ...last.answer, source: 'stale' };
      }
      return unavailable(lookup, err);
    }
  }

  function check(lookup: Lookup, options: CheckOptions = {}): Promise<EntitlementCheck> {
    const feature = options.feature;
    const key = keyOf(lookup, feature);
    if (cacheOn) {
      const entry = cache.get(key);
      if (entry) {
        const age = Date.now() - entry.fetchedAt;
        if (age < ttlMs) {
          counters.hits++;
          return Promise.resolve<EntitlementAnswer>({ ...entry.answer, source: 'cache' });
        }
        if (age > keepMs) {
          unindex(key, entry);
          cache.delete(key);
        }
      }
    }
    const existing = inFlight.get(key);
    if (existing) {
      counters.coalesced++;
      return existing.promise;
    }
    const pending = { superseded: false, lookup, feature } as InFlight;
    pending.promise = ask(key, lookup, pending).finally(() => {
      if (inFlight.get(key) === pending) inFlight.delete(key);
    });
    inFlight.set(key, pending);
    return pending.promise;
  }

  // Live invalidation.
  const liveOptions = typeof options.live === 'object' ? options.live : {};
  const liveOn = cacheOn && options.live !== false;
  let liveWaiters: Array<() => void> = [];
  let subscription: SseSubscription | null = null;
  if (liveOn) {
    subscription = subscribeSse({
      url: `${base}/v1/entitlements/events`,
      headers: { Authorization: authorization },
      fetch: doFetch,
      liveEvent: 'ready',
      initialBackoffMs: liveOptions.initialBackoffMs ?? 500,
      maxBackoffMs: liveOptions.maxBackoffMs ?? 30_000,
      idleTimeoutMs: liveOptions.idleTimeoutMs ?? 45_000,
      connectTimeoutMs: timeoutMs * 5,
      resumeAttempts: liveOptions.resumeAttempts ?? 3,
      // The changes since the id will never arrive: nothing cached may outlive that.
      onResumeAbandoned: clearAll,
      onState: options.onLiveState,
      onMessage(message) {
        if (message.event === 'change') {
          let change: EntitlementChangeEvent;
          try {
            change = JSON.parse(message.data) as EntitlementChangeEvent;
          } catch {
            return;
          }
          invalidate(change);
          options.onChange?.(change);
        } else if (message.event === 'reset') {
          clearAll();
        } else if (message.event === 'ready') {
          // A stream that did not resume (the first, or one after a resume was given up) covers nothing
          // from before it: answers cached until now were not kept current by it.
          if (!resumedStream(message.data)) clearAll();
          for (const resolve of liveWaiters.splice(0)) resolve();
        }
      },
    });
  }

  return {
    check,
    checkUser: (userId, options) => check({ user: userId }, options),
    whenLive() {
      if (!subscription || subscription.state === 'live') return Promise.resolve();
      return new Promise((resolve) => liveWaiters.push(resolve));
    },
    get liveState() {
      return subscription ? subscription.state : 'off';
    },
    stats: () => ({ ...counters, size: cache.size }),
    clear: clearAll,
    async close() {
      await subscription?.close();
      for (const resolve of liveWaiters.splice(0)) resolve();
      liveWaiters = [];
    },
  };
}
