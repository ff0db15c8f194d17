/**
 * How fast a job held by a dead worker (kill -9, OOM, lost host) goes back to the others: BullMQ's lock
 * and stalled-job check, tuned per kind of job. A job is recovered at the first stalled check after its
 * lock lapses, so the worst case is lockDuration + stalledInterval after the worker's last renewal.
 */
import type { WorkerOptions } from 'bullmq';

export type StallDetection = Required<Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>>;

/**
 * Refreshes, events, card expiry, notices, missed-event recovery: picked up again within 15 s (BullMQ's
 * defaults take up to 60 s).
 *
 * The lock does not have to outlast a job: BullMQ renews every active job's lock from a timer, every
 * lockDuration/4 to lockDuration/2, however long the processor takes. The longest job here is a refresh:
 * two Stripe reads with a 10 s SDK timeout each, plus at most 5 s each waiting for the request budget, and
 * the timer renews all along. What the lock must outlast is a renewal running late: a blocked event loop
 * (GC, a large JSON parse) or a slow Redis (an AOF fsync stall). 10 s leaves a renewal 5 s to be late
 * before a healthy job is taken for stalled; a check every 5 s is one small script per queue.
 *
 * A stalled job runs again, and every one of these is safe to run twice (a re-read through the guarded
 * writer, a notice claimed in its ledger, a ledger-checked enqueue), while failing one loses a refresh until
 * the next event: so a job may stall 3 times (a crash and two Redis stops) before it fails, still few enough
 * to stop a job that kills its worker each time.
 */
export const JOB_STALL_DETECTION: StallDetection = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 3 };

/**
 * The resync: picked up again within 90 s. It runs for hours and resumes from its checkpoint, so a minute
 * more after a crash costs nothing; a false stall, though, would start a second run beside the first, both
 * moving one checkpoint. Its lock tolerates a renewal 30 s late.
 */
export const RESYNC_STALL_DETECTION: StallDetection = { lockDuration: 60_000, stalledInterval: 30_000, maxStalledCount: 3 };
