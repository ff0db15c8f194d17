/**
 * Feeds a process's metrics from its BullMQ workers' events: job durations for every worker, event lag
 * from the stripe-events and customer-sync workers, card-expiry outcomes (flags raised and cleared).
 * Listeners only: it changes nothing about how jobs run.
 */
import type { Job, Worker } from 'bullmq';
import type { Clock } from '../domain/projection.js';
import type { EventLedger } from '../store/event-ledger.js';
import { QUEUE } from '../queues.js';
import type { Metrics } from './metrics.js';

export function instrumentWorkers(deps: {
  metrics: Metrics;
  workers: readonly (Worker | null)[];
  clock: Clock;
  ledger?: Pick<EventLedger, 'receivedAt'>;
}): void {
  const seconds = (ms: number) => ms / 1000;
  for (const worker of deps.workers) {
    if (!worker) continue;
    const duration = (job: Job) => (job.finishedOn && job.processedOn ? seconds(job.finishedOn - job.processedOn) : 0);
    worker.on('completed', (job: Job) => {
      deps.metrics.observeJob(worker.name, job.name, 'completed', duration(job));
      if (worker.name === QUEUE.stripeEvents) {
        const receivedAt = (job.data as { receivedAt?: unknown }).receivedAt;
        if (typeof receivedAt === 'number') deps.metrics.observeEventLag('routed', seconds(deps.clock.now() - receivedAt));
      } else if (worker.name === QUEUE.customerSync && deps.ledger) {
        const eventId = (job.data as { eventId?: unknown }).eventId;
        if (typeof eventId === 'string') {
          const now = deps.clock.now();
          void deps.ledger
            .receivedAt(eventId)
            .then((at) => at !== null && deps.metrics.observeEventLag('applied', seconds(now - at)))
            .catch(() => undefined);
        }
      } else if (worker.name === QUEUE.cardExpiry) {
        const outcome = (job.returnvalue as { outcome?: unknown } | null)?.outcome;
        if (typeof outcome === 'string') deps.metrics.recordCardExpiryOutcome(job.name, outcome);
      }
    });
    worker.on('failed', (job: Job | undefined) => {
      if (job) deps.metrics.observeJob(worker.name, job.name, 'failed', duration(job));
    });
  }
}
