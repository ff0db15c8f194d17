/**
 * Owns `<prefix>:recovery:events`: where missed-event recovery got to (the newest event `created` it has
 * seen, in Stripe's seconds) and what its last run found, so each run lists only what is new.
 */
import type { Redis } from 'ioredis';

export interface EventRecoveryCheckpoint {
  /** Stripe seconds; the newest event seen by any run. */
  newest_created: number;
  /** ms */
  last_run_at: number;
  last_listed: number;
  last_recovered: number;
}

export interface EventRecoveryStore {
  get(): Promise<EventRecoveryCheckpoint | null>;
  save(checkpoint: EventRecoveryCheckpoint): Promise<void>;
}

export function createEventRecoveryStore(deps: { redis: Redis; prefix: string }): EventRecoveryStore {
  const key = `${deps.prefix}:recovery:events`;
  return {
    async get() {
      const raw = await deps.redis.get(key);
      return raw ? (JSON.parse(raw) as EventRecoveryCheckpoint) : null;
    },
    async save(checkpoint) {
      await deps.redis.set(key, JSON.stringify(checkpoint));
    },
  };
}
