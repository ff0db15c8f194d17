/**
 * Owns `<prefix>:evt:<event id>`: the ledger of Stripe event ids already accepted. BullMQ's job-id
 * dedupe ends when a job is removed, so this ledger is what keeps a redelivery from being enqueued
 * twice. Entries live 30 days, as long as Stripe keeps events and retries them.
 * Also owns `<prefix>:stats:events`, counters of what became of each event type.
 */
import type { Redis } from 'ioredis';

const LEDGER_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export type EventOutcome = 'enqueued' | 'duplicate' | 'applied' | 'covered' | 'ignored' | 'no_customer';

export type ClaimState = 'new' | 'pending' | 'enqueued';

// Values: 'p<ms>' while the enqueue is unconfirmed, 'q<ms>' once it is (SETRANGE flips the first byte
// and keeps the TTL).
const PENDING = 'p';
const ENQUEUED = 'q';

export interface EventLedger {
  /**
   * 'new' when this call claimed the id; 'pending' when it was claimed but its enqueue was never
   * confirmed (a crash between the two, or a concurrent delivery still in flight); 'enqueued' when done.
   */
  claim(eventId: string, receivedAt: number): Promise<ClaimState>;
  /** Confirms the enqueue, so later deliveries are acknowledged without touching the queue. */
  markEnqueued(eventId: string): Promise<void>;
  /**
   * Undo this delivery's own claim after its enqueue failed, so Stripe's retry is accepted. Only a claim
   * still pending with this delivery's `receivedAt` is removed: a release arriving late (its request
   * already answered 503) must not erase a claim another delivery has since confirmed.
   */
  release(eventId: string, receivedAt: number): Promise<void>;
  has(eventId: string): Promise<boolean>;
  /** ms; when the event was accepted, or null when the ledger does not (or no longer) know it. */
  receivedAt(eventId: string): Promise<number | null>;
  count(type: string, outcome: EventOutcome): Promise<void>;
  counts(): Promise<Record<string, number>>;
}

// KEYS[1] the event's ledger entry. ARGV[1] the exact pending value the releasing delivery wrote.
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface ScriptedRedis extends Redis {
  subgateReleaseClaim(key: string, pending: string): Promise<number>;
}

export function createEventLedger(deps: { redis: Redis; prefix: string }): EventLedger {
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateReleaseClaim !== 'function') redis.defineCommand('subgateReleaseClaim', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  const keyOf = (eventId: string) => `${deps.prefix}:evt:${eventId}`;
  const statsKey = `${deps.prefix}:stats:events`;
  return {
    async claim(eventId, receivedAt) {
      // SET … NX GET (Redis 7): one round trip that claims, or says what the earlier claim got to.
      const previous = await deps.redis.set(keyOf(eventId), PENDING + String(receivedAt), 'PX', LEDGER_TTL_MS, 'NX', 'GET');
      if (previous === null) return 'new';
      return previous.startsWith(ENQUEUED) ? 'enqueued' : 'pending';
    },
    async markEnqueued(eventId) {
      await deps.redis.setrange(keyOf(eventId), 0, ENQUEUED);
    },
    async release(eventId, receivedAt) {
      await redis.subgateReleaseClaim(keyOf(eventId), PENDING + String(receivedAt));
    },
    async has(eventId) {
      return (await deps.redis.exists(keyOf(eventId))) === 1;
    },
    async receivedAt(eventId) {
      const value = await deps.redis.get(keyOf(eventId));
      return value === null ? null : Number(value.slice(1));
    },
    async count(type, outcome) {
      await deps.redis.hincrby(statsKey, `${type}|${outcome}`, 1);
    },
    async counts() {
      const raw = await deps.redis.hgetall(statsKey);
      return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
    },
  };
}
