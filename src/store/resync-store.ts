/**
 * Owns `<prefix>:resync:run` (the checkpoint of the current or last resync: phase, cursor, counters) and
 * `<prefix>:resync:subs:<run id>` (the subscriptions staged by the first pass, one hash field per
 * customer) and `<prefix>:resync:lease` (which run may work now). The checkpoint moves only after a page is durably handled, so a resync that dies resumes
 * from its last page; staging is keyed by subscription id, so re-staging a page after a crash is harmless.
 */
import type { Redis } from 'ioredis';

/** Staged data expires on its own if a run is abandoned and never finishes. */
const STAGING_TTL_SECONDS = 7 * 24 * 60 * 60;

export type ResyncPhase = 'subscriptions' | 'customers' | 'done';

export interface ResyncCounters {
  subscriptions: number;
  customers: number;
  written: number;
  stale: number;
  /** Transient Stripe failures (429, 5xx, network) the run backed off from and retried. */
  retries: number;
  rate_limited: number;
}

export interface ResyncCheckpoint extends ResyncCounters {
  run_id: string;
  phase: ResyncPhase;
  /** Id of the last object of the last finished page of the current phase; null at its start. */
  cursor: string | null;
  /** ms; when the run began. */
  started_at: number;
  /** ms; when the subscription pass began: every projection of this run is a read of that instant. */
  read_at: number;
  /** The same instant on Redis's clock (µs), which orders this run's writes against every refresh's (absent in runs begun before it was kept). */
  read_order?: number;
  finished_at: number | null;
  /** How many times the run was picked up again after stopping before the end. */
  resumes: number;
}

export interface ResyncStore {
  current(): Promise<ResyncCheckpoint | null>;
  save(checkpoint: ResyncCheckpoint): Promise<void>;
  /** Merges staged subscriptions (JSON by subscription id) into each customer's field. */
  stage(runId: string, byCustomer: ReadonlyMap<string, ReadonlyMap<string, string>>): Promise<void>;
  /** The staged subscriptions (JSON strings) of each given customer; absent customers map to []. */
  staged(runId: string, customerIds: readonly string[]): Promise<Map<string, string[]>>;
  dropStaging(runId: string): Promise<void>;
  /**
   * One resync at a time, across processes: a lease the running resync holds and renews. BullMQ can hand
   * a job whose lock renewal was late to a second worker while the first still runs; two runs on one
   * checkpoint would drop each other's staging and write customers without their subscriptions.
   */
  acquireLease(owner: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease; false when `owner` no longer holds it (it ran out and another run took it). */
  renewLease(owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(owner: string): Promise<void>;
}

// KEYS[1] lease. ARGV: owner, ttl ms ('' to delete). Acts only while `owner` holds the lease.
const LEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

interface ScriptedRedis extends Redis {
  subgateResyncLease(key: string, owner: string, ttlMs: string): Promise<number>;
}

export function createResyncStore(deps: { redis: Redis; prefix: string }): ResyncStore {
  const redis = deps.redis as ScriptedRedis;
  if (typeof redis.subgateResyncLease !== 'function') redis.defineCommand('subgateResyncLease', { numberOfKeys: 1, lua: LEASE_SCRIPT });
  const runKey = `${deps.prefix}:resync:run`;
  const leaseKey = `${deps.prefix}:resync:lease`;
  const stagingKey = (runId: string) => `${deps.prefix}:resync:subs:${runId}`;

  async function readStaged(runId: string, customerIds: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    if (customerIds.length === 0) return out;
    const raw = await deps.redis.hmget(stagingKey(runId), ...customerIds);
    customerIds.forEach((id, i) => {
      const value = raw[i];
      out.set(id, value ? (JSON.parse(value) as Record<string, string>) : {});
    });
    return out;
  }

  return {
    async current() {
      const raw = await deps.redis.get(runKey);
      return raw ? (JSON.parse(raw) as ResyncCheckpoint) : null;
    },
    async save(checkpoint) {
      await deps.redis.set(runKey, JSON.stringify(checkpoint));
    },
    async stage(runId, byCustomer) {
      const ids = [...byCustomer.keys()];
      const existing = await readStaged(runId, ids);
      const fields: string[] = [];
      for (const [customerId, subs] of byCustomer) {
        const merged = { ...existing.get(customerId), ...Object.fromEntries(subs) };
        fields.push(customerId, JSON.stringify(merged));
      }
      if (fields.length === 0) return;
      await deps.redis.multi().hset(stagingKey(runId), ...fields).expire(stagingKey(runId), STAGING_TTL_SECONDS).exec();
    },
    async staged(runId, customerIds) {
      const raw = await readStaged(runId, customerIds);
      return new Map([...raw].map(([id, subs]) => [id, Object.values(subs)]));
    },
    async dropStaging(runId) {
      await deps.redis.unlink(stagingKey(runId));
    },
    async acquireLease(owner, ttlMs) {
      return (await deps.redis.set(leaseKey, owner, 'PX', ttlMs, 'NX')) === 'OK';
    },
    async renewLease(owner, ttlMs) {
      return (await redis.subgateResyncLease(leaseKey, owner, String(ttlMs))) === 1;
    },
    async releaseLease(owner) {
      await redis.subgateResyncLease(leaseKey, owner, '');
    },
  };
}
