/**
 * Queues reader notices for the notices worker. The job id is derived from the notice key, so the same
 * notice asked for twice while its job exists is one job; the ledger's claim covers the rest.
 */
import { noticeKey, type NoticeRequest } from '../domain/notice.js';
import { DEFAULT_NOTICE_RETRY, JOB, noticeJobOptions, type NoticeRetry, type Queues } from '../queues.js';

export interface NoticeOutbox {
  enqueue(request: NoticeRequest): Promise<void>;
}

export function createNoticeOutbox(deps: { queue: Queues['notices']; retry?: NoticeRetry }): NoticeOutbox {
  return {
    async enqueue(request) {
      await deps.queue.add(JOB.sendNotice, request, noticeJobOptions(noticeKey(request), deps.retry ?? DEFAULT_NOTICE_RETRY));
    },
  };
}
