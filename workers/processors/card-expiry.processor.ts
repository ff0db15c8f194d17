/**
 * Processor of the card-expiry queue: each job name maps to one method of the card-expiry service (or the
 * sweep). Thin on purpose; errors propagate so BullMQ retries with backoff. A job that ran before its
 * instant (another host's clock ran ahead) is put back among the delayed jobs, without spending an attempt.
 */
import { DelayedError, type Job } from 'bullmq';
import type { Clock } from '../../src/domain/projection.js';
import type { CardExpiryService, ExpiryJobResult } from '../../src/expiry/card-expiry-service.js';
import type { ExpirySweep } from '../../src/expiry/expiry-sweep.js';
import type { GrantChanges } from '../../src/flows/grant-changes.js';
import {
  JOB,
  type CardExpiryJobData,
  type CardExpiryJobName,
  type CardJobData,
  type ExpirySignalJobData,
  type GrantEndJobData,
  type PastDueGraceEndJobData,
} from '../../src/queues.js';

export interface CardExpiryProcessorDeps {
  /**
   * Wall time, as BullMQ schedules delayed jobs by it: an early job goes back among them at this clock's
   * now plus the wait (the service decides the wait on the policy's clock).
   */
  queueClock: Clock;
  service: CardExpiryService;
  sweep: ExpirySweep;
  /** Grant ends; without it a grant-end job only finishes (nothing to publish). */
  grants?: Pick<GrantChanges, 'runGrantEnd'> | null;
}

/** An early job waits at least this long before it runs again, so a frozen or skewed clock cannot make it spin. */
const MIN_REDELAY_MS = 1000;

type Handler = (data: CardExpiryJobData) => Promise<ExpiryJobResult>;

export function createCardExpiryProcessor(deps: CardExpiryProcessorDeps) {
  const handlers = {
    [JOB.expiryNotice]: (data) => deps.service.runNoticeWindow(data as CardJobData),
    [JOB.expiryCheck]: (data) => deps.service.runExpiryCheck(data as CardJobData),
    [JOB.graceEnd]: (data) => deps.service.runGraceEnd(data as CardJobData),
    [JOB.pastDueGraceEnd]: (data) => deps.service.runGraceEnd(data as PastDueGraceEndJobData),
    [JOB.grantEnd]: async (data) => (deps.grants ? deps.grants.runGrantEnd(data as GrantEndJobData) : { outcome: 'no_grants' }),
    [JOB.expirySignal]: (data) => deps.service.applySignal((data as ExpirySignalJobData).signal),
    [JOB.expirySweep]: async () => ({ outcome: 'swept', ...(await deps.sweep.sweep()) }),
  } satisfies Record<CardExpiryJobName, Handler>;

  return async function processCardExpiry(
    job: Job<CardExpiryJobData, unknown, CardExpiryJobName>,
    token?: string,
  ): Promise<ExpiryJobResult> {
    const result: ExpiryJobResult = await handlers[job.name](job.data);
    if (result.retryInMs !== undefined && token !== undefined) {
      await job.moveToDelayed(deps.queueClock.now() + Math.max(MIN_REDELAY_MS, result.retryInMs), token);
      throw new DelayedError();
    }
    return result;
  };
}
