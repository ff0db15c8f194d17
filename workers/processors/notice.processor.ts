/**
 * Processor of the notices queue: one send per job. A permanent rejection fails the job at once with its
 * reason (already recorded in the notice ledger); any other error is retried with backoff by BullMQ.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import { PermanentNoticeError, type NoticeOutcome, type NoticeSender } from '../../src/notices/notice-sender.js';
import type { NoticeJobData } from '../../src/queues.js';

export function createNoticeProcessor(deps: { sender: NoticeSender }) {
  return async function processNotice(job: Job<NoticeJobData>): Promise<NoticeOutcome> {
    try {
      return await deps.sender.send(job.data);
    } catch (err) {
      if (err instanceof PermanentNoticeError) throw new UnrecoverableError(err.message);
      throw err;
    }
  };
}
