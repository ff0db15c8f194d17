/**
 * The operations workers (issue 5): the resync and missed-event recovery, one job at a time each.
 * Built from injected parts like the worker set; close() is idempotent and lets active jobs finish.
 */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../src/logger.js';
import type { RunBackfill, BackfillSummary } from '../src/backfill/backfill-runner.js';
import type { RecoverEvents, RecoveryResult } from '../src/recovery/event-recovery.js';
import { OPS_QUEUE, type RecoverEventsJobData, type ResyncJobData } from '../src/queues.js';
import { createBackfillProcessor } from './backfill.processor.js';
import { createRecoveryProcessor } from './recovery.processor.js';
import { JOB_STALL_DETECTION, RESYNC_STALL_DETECTION } from './stall-detection.js';

export interface OpsWorkerDeps {
  connection: Redis;
  prefix: string;
  logger: Logger;
  runBackfill: RunBackfill;
  recoverEvents: RecoverEvents;
}

export interface OpsWorkers {
  backfillWorker: Worker<ResyncJobData, BackfillSummary>;
  recoveryWorker: Worker<RecoverEventsJobData, RecoveryResult>;
  close(): Promise<void>;
}

export function createOpsWorkers(deps: OpsWorkerDeps): OpsWorkers {
  const log = deps.logger.child({ component: 'ops-workers' });
  const common = { connection: deps.connection, prefix: deps.prefix, concurrency: 1 };
  const backfillWorker = new Worker<ResyncJobData, BackfillSummary>(OPS_QUEUE.backfill, createBackfillProcessor({ runBackfill: deps.runBackfill }), {
    ...common,
    ...RESYNC_STALL_DETECTION,
  });
  const recoveryWorker = new Worker<RecoverEventsJobData, RecoveryResult>(
    OPS_QUEUE.eventRecovery,
    createRecoveryProcessor({ recoverEvents: deps.recoverEvents }),
    { ...common, ...JOB_STALL_DETECTION },
  );
  const all = [backfillWorker, recoveryWorker] as unknown as Worker[];
  for (const worker of all) {
    worker.on('failed', (job, err) => log.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, reason: err.message }, 'job failed'));
    worker.on('error', (err) => log.error({ queue: worker.name, reason: err.message }, 'worker error'));
  }
  let closing: Promise<void> | null = null;
  return {
    backfillWorker,
    recoveryWorker,
    close() {
      closing ??= Promise.allSettled(all.map((worker) => worker.close())).then(() => undefined);
      return closing;
    },
  };
}
