/**
 * Owns `<prefix>:stripe-budget`: the Stripe request budget every process shares (API, workers, resync),
 * so STRIPE_API_RATE_LIMIT holds in any one-second window however many processes send.
 *
 * A schedule rather than a counter (GCRA): the key holds the instant the next request may go; each
 * request takes that slot and moves it on by one interval, in one script, and waits until its slot comes.
 * Slots never bunch up: after an idle spell the first request goes at once and the next waits a full
 * interval, so nothing saved up can burst at a window's edge (a fixed window lets 2N through across one,
 * a token bucket its whole bucket). A slot further away than the caller will wait is not taken.
 *
 * The script reads Redis's clock, one timeline for every host whatever their own clocks say; tests pass
 * their clock instead.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../domain/projection.js';

/**
 * Slots are spaced as if a second lasted this much longer: a request reaches Stripe a little after its
 * slot (a late timer, a new TLS connection), and not equally late each time. Up to this much difference
 * still leaves at most N requests in any second as Stripe counts them; it costs a tenth of the rate.
 */
export const BUDGET_HEADROOM_MS = 100;

export interface StripeRequestBudget {
  readonly requestsPerSecond: number;
  /**
   * Takes the next send slot if it is at most `maxWaitMs` away: resolves with the ms to wait before
   * sending (0: now), or null when it is further (nothing is taken then).
   */
  reserve(maxWaitMs: number): Promise<number | null>;
}

// KEYS[1] the budget: the instant (ms, fractional) of the next free slot. ARGV: interval ms, max wait ms,
// now ms ('' = Redis's clock). Returns {taken (1/0), ms to wait}, the wait as a string to keep its fraction.
const RESERVE_SCRIPT = `
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local wait = slot - now
if wait > tonumber(ARGV[2]) then return {0, string.format('%.3f', wait)} end
local following = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.3f', following), 'PX', math.ceil(following - now) + 1000)
return {1, string.format('%.3f', wait)}
`;

interface ScriptedRedis extends Redis {
  subgateReserveStripeSlot(key: string, intervalMs: string, maxWaitMs: string, now: string): Promise<[number, string]>;
}

export function createStripeRequestBudget(deps: { redis: Redis; prefix: string; requestsPerSecond: number; clock?: Clock }): StripeRequestBudget {
  if (!(deps.requestsPerSecond > 0)) throw new RangeError('requestsPerSecond must be positive');
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateReserveStripeSlot !== 'function') {
    redis.defineCommand('subgateReserveStripeSlot', { numberOfKeys: 1, lua: RESERVE_SCRIPT });
  }
  const key = `${deps.prefix}:stripe-budget`;
  const intervalMs = String((1000 + BUDGET_HEADROOM_MS) / deps.requestsPerSecond);
  return {
    requestsPerSecond: deps.requestsPerSecond,
    async reserve(maxWaitMs) {
      const now = deps.clock ? String(deps.clock.now()) : '';
      const [taken, wait] = await redis.subgateReserveStripeSlot(key, intervalMs, String(Math.max(0, maxWaitMs)), now);
      return taken === 1 ? Number(wait) : null;
    },
  };
}
