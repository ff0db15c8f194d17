/**
 * The safety net behind the delayed jobs (Redis restored from a backup, jobs lost or deleted): run daily
 * by a BullMQ job scheduler, it reads the expiry index for customers whose earliest billed card expires
 * before now + the scheduling horizon, and re-plans their cards. Deterministic job ids make that a no-op
 * for every job that still exists; a lost one comes back, and a due card gets its expiry check at once.
 * Its cost grows with the cards in that window, not with the number of subscribers.
 */
import type { Logger } from '../logger.js';
import type { Clock } from '../domain/projection.js';
import { cardsToFlag } from '../domain/expiry-plan.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { ExpiryScheduler } from './expiry-scheduler.js';

export interface SweepResult {
  /** Customers read from the index window. */
  customers: number;
  /** Billed cards past their expiry and not yet flagged: each got an expiry check. */
  due: number;
  /** Jobs handed to BullMQ (existing ids are left as they are). */
  jobs: number;
  tookMs: number;
}

export interface ExpirySweep {
  sweep(): Promise<SweepResult>;
}

export function createExpirySweep(deps: {
  store: Pick<SubscriberStore, 'dueCustomers' | 'readMany'>;
  scheduler: ExpiryScheduler;
  clock: Clock;
  logger: Logger;
  pageSize?: number;
}): ExpirySweep {
  const log = deps.logger.child({ component: 'expiry-sweep' });
  const pageSize = deps.pageSize ?? 1000;
  return {
    async sweep() {
      const started = Date.now();
      const now = deps.clock.now();
      const until = now + deps.scheduler.horizonMs;
      let offset = 0;
      const result = { customers: 0, due: 0, jobs: 0 };
      for (;;) {
        // Offset paging over a live index may see a customer twice or miss one that moved: both are
        // harmless (ids are deterministic; a missed one is caught tomorrow).
        const page = await deps.store.dueCustomers(until, offset, pageSize);
        if (page.length === 0) break;
        offset += page.length;
        const states = await deps.store.readMany(page.map((entry) => entry.customerId));
        const jobs = states.flatMap((state) => deps.scheduler.planFor(state.projection, 'sweep'));
        result.customers += page.length;
        result.due += states.reduce((sum, state) => sum + cardsToFlag(state.projection, now).length, 0);
        result.jobs += await deps.scheduler.add(jobs);
        if (page.length < pageSize) break;
      }
      const tookMs = Date.now() - started;
      log.info({ ...result, tookMs }, 'expiry sweep done');
      return { ...result, tookMs };
    },
  };
}
