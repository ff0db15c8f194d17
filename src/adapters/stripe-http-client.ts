/**
 * The Stripe SDK's own Node HTTP client with the shared request budget in front. The SDK sends every
 * request through its client's makeRequest, its network retries and each page of an auto-paginated list
 * included, so each of them takes a slot and waits for it before it leaves. A request that cannot have a
 * slot within MAX_BUDGET_WAIT_MS fails with StripeBudgetExhaustedError (which the SDK, like any connection
 * failure, may retry once, through the budget again), a transient error its job retries later: waiting
 * requests are bounded by the callers' own concurrency, never queued in memory.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';
import type { Clock } from '../domain/projection.js';
import { BUDGET_HEADROOM_MS, type StripeRequestBudget } from '../store/stripe-request-budget.js';

/**
 * How long a request may wait for its slot. Every process's in-flight requests share one schedule, so
 * this is (requests waiting across all processes) x (interval): 5 s is ~90 waiting requests at the
 * default 20/s, far more than the workers' concurrency asks for, and still a short wait for a reader
 * opening the billing portal.
 */
export const MAX_BUDGET_WAIT_MS = 5000;

/**
 * A request woken this much after its slot (a stalled event loop) gives the slot up and takes a new one:
 * sent now, it would crowd the requests after it. A quarter of the budget's headroom; the rest is for the
 * way to Stripe (a new connection, the network), which differs from one request to the next.
 */
const LATE_AFTER_SLOT_MS = BUDGET_HEADROOM_MS / 4;

/** No slot within the bounded wait: more requests are waiting than the budget serves in that time. */
export class StripeBudgetExhaustedError extends Error {
  constructor(maxWaitMs: number) {
    super(`no Stripe request slot within ${maxWaitMs} ms (STRIPE_API_RATE_LIMIT is spent); retry later`);
    this.name = 'StripeBudgetExhaustedError';
  }
}

export interface BudgetedHttpClientDeps {
  budget: StripeRequestBudget;
  /** The client that sends; the SDK's Node client by default. */
  inner?: Stripe.HttpClient;
  maxWaitMs?: number;
  /** A monotonic clock for the waits (performance.now by default). */
  clock?: Clock;
}

export function createBudgetedHttpClient(deps: BudgetedHttpClientDeps): Stripe.HttpClient {
  const inner = deps.inner ?? Stripe.createNodeHttpClient();
  const maxWaitMs = deps.maxWaitMs ?? MAX_BUDGET_WAIT_MS;
  const clock = deps.clock ?? { now: () => performance.now() };
  return {
    getClientName: () => `budgeted-${inner.getClientName()}`,
    async makeRequest(...request) {
      const giveUpAt = clock.now() + maxWaitMs;
      for (;;) {
        const asked = clock.now();
        const wait = asked <= giveUpAt ? await deps.budget.reserve(giveUpAt - asked) : null;
        if (wait === null) throw new StripeBudgetExhaustedError(maxWaitMs);
        // The slot fell between the ask and the answer: sleeping `wait` from the answer never sends early
        // (that would crowd the request before). Lateness counts from the ask, so a reply handled late is
        // late too; unless the round trip alone took that long, as a slow Redis must not turn every request back.
        const answered = clock.now();
        if (wait > 0) await sleep(wait);
        const slot = (answered - asked > LATE_AFTER_SLOT_MS ? answered : asked) + wait;
        if (clock.now() - slot <= LATE_AFTER_SLOT_MS) return inner.makeRequest(...request);
      }
    },
  };
}

/** The budget refused a slot; the SDK hands our error over as a connection error's `detail`. */
export function isStripeBudgetExhausted(err: unknown): boolean {
  return (
    err instanceof StripeBudgetExhaustedError ||
    (err instanceof Stripe.errors.StripeConnectionError && (err as { detail?: unknown }).detail instanceof StripeBudgetExhaustedError)
  );
}
