/**
 * Prometheus metrics (prom-client), one registry per process made in the composition root (never the
 * global one, so tests can build many apps). Counters the HTTP side moves itself (webhooks, entitlement
 * answers), histograms the workers feed (event lag, job durations), and figures read from Redis at scrape
 * time so they are right whichever process did the work (queue depths, event and notice outcomes).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';

export type WebhookOutcome = 'accepted' | 'duplicate' | 'rejected' | 'unavailable';

export interface Metrics {
  readonly registry: Registry;
  recordWebhook(type: string, outcome: WebhookOutcome): void;
  /** An accepted webhook event, by the Stripe API version it was rendered in. */
  recordWebhookApiVersion(apiVersion: string): void;
  recordEntitlement(status: string): void;
  /** Seconds from our endpoint accepting an event to `stage`: routed to a refresh, or the refresh applied. */
  observeEventLag(stage: 'routed' | 'applied', seconds: number): void;
  observeJob(queue: string, name: string, outcome: 'completed' | 'failed', seconds: number): void;
  recordCardExpiryOutcome(job: string, outcome: string): void;
}

export interface MetricsDeps {
  /** Queues whose depth is read at scrape time. */
  queues?: readonly Queue[];
  /** `type|outcome` -> count, from the event ledger's stats (all processes). */
  eventCounts?: () => Promise<Record<string, number>>;
  /** `kind|outcome` -> count, from the notice ledger's stats (all processes). */
  noticeCounts?: () => Promise<Record<string, number>>;
  /** Process metrics (CPU, memory, event loop); off in tests. */
  defaultMetrics?: boolean;
}

const JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed', 'completed'] as const;
const ENTITLEMENT_STATUSES = ['active', 'trialing', 'grace_period', 'card_expired', 'payment_failed', 'paused', 'incomplete', 'canceled', 'none'];

export function createMetrics(deps: MetricsDeps = {}): Metrics {
  const registry = new Registry();
  if (deps.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'subgate_' });

  const webhooks = new Counter({
    name: 'subgate_webhooks_total',
    help: 'Stripe webhook deliveries by event type and outcome (rejected: signature or payload refused).',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  });
  const apiVersions = new Counter({
    name: 'subgate_webhook_api_versions_total',
    help: 'Accepted Stripe webhook events by the API version Stripe rendered them in (the endpoint\'s version).',
    labelNames: ['api_version'] as const,
    registers: [registry],
  });
  const entitlements = new Counter({
    name: 'subgate_entitlement_answers_total',
    help: 'Entitlement answers by status.',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  // Children made once: the entitlement route is the hot path, an answer costs one increment.
  const entitlementChildren = new Map(ENTITLEMENT_STATUSES.map((status) => [status, entitlements.labels(status)]));
  const eventLag = new Histogram({
    name: 'subgate_event_lag_seconds',
    help: 'Seconds from an event being accepted to being routed, and to its refresh being applied.',
    labelNames: ['stage'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'subgate_job_duration_seconds',
    help: 'BullMQ job processing time by queue, job name and outcome.',
    labelNames: ['queue', 'name', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60],
    registers: [registry],
  });
  const cardExpiry = new Counter({
    name: 'subgate_card_expiry_jobs_total',
    help: 'Card-expiry job outcomes by job name.',
    labelNames: ['job', 'outcome'] as const,
    registers: [registry],
  });
  const flags = new Counter({
    name: 'subgate_card_flags_total',
    help: 'Expired-card flags raised, and cleared when a payment proved the card still pays.',
    labelNames: ['action'] as const,
    registers: [registry],
  });

  const queues = deps.queues ?? [];
  new Gauge({
    name: 'subgate_queue_jobs',
    help: 'Jobs per queue and state, read from Redis at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await Promise.all(queues.map((queue) => queue.getJobCounts(...JOB_STATES)));
      queues.forEach((queue, i) => {
        for (const state of JOB_STATES) this.set({ queue: queue.name, state }, counts[i]?.[state] ?? 0);
      });
    },
  });
  const fromStats = (name: string, help: string, labels: readonly [string, string], read: (() => Promise<Record<string, number>>) | undefined) => {
    if (!read) return;
    new Gauge({
      name,
      help,
      labelNames: labels,
      registers: [registry],
      async collect() {
        this.reset();
        for (const [field, count] of Object.entries(await read())) {
          const [a = '', b = ''] = field.split('|');
          this.set({ [labels[0]]: a, [labels[1]]: b }, count);
        }
      },
    });
  };
  fromStats('subgate_events_total', 'Stripe events processed by type and outcome (all processes; a counter kept in Redis).', ['type', 'outcome'], deps.eventCounts);
  fromStats('subgate_notices_total', 'Notices by kind and outcome (all processes; a counter kept in Redis).', ['kind', 'outcome'], deps.noticeCounts);

  return {
    registry,
    recordWebhook(type, outcome) {
      webhooks.inc({ type, outcome });
    },
    recordWebhookApiVersion(apiVersion) {
      apiVersions.inc({ api_version: apiVersion });
    },
    recordEntitlement(status) {
      (entitlementChildren.get(status) ?? entitlements.labels(status)).inc();
    },
    observeEventLag(stage, seconds) {
      eventLag.observe({ stage }, Math.max(0, seconds));
    },
    observeJob(queue, name, outcome, seconds) {
      jobDuration.observe({ queue, name, outcome }, Math.max(0, seconds));
    },
    recordCardExpiryOutcome(job, outcome) {
      cardExpiry.inc({ job, outcome });
      if (outcome === 'flagged') flags.inc({ action: 'raised' });
      if (outcome === 'honoured') flags.inc({ action: 'cleared' });
    },
  };
}
