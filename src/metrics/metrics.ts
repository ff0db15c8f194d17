/**
 * Prometheus metrics (prom-client), one registry per process made in the composition root (never the
 * global one, so tests can build many apps). Counters the HTTP side moves itself (webhooks, entitlement
 * answers), histograms the workers feed (event lag, job durations), and figures read from Redis at scrape
 * time so they are right whichever process did the work (queue depths, event and notice outcomes). Those
 * Redis figures are read in one shared round at most every `collectEveryMs`, and the text at most once a
 * second, so scrapes, however many, never add up to load on the Redis or the event loop the entitlement
 * checks use.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';
import type { Clock } from '../domain/projection.js';
import type { CountedStep } from '../store/recovery-funnel.js';
import { shareCollection } from './shared-collection.js';

export type WebhookOutcome = 'accepted' | 'duplicate' | 'rejected' | 'unavailable';

/** What the change feed tells: streams opened and closed (by token name), refused, reset, or dropped. */
export type FeedEvent =
  | { type: 'opened'; token: string }
  | { type: 'closed'; token: string }
  | { type: 'refused'; reason: 'token_limit' | 'process_limit' }
  | { type: 'reset'; reason: 'changes_lost' | 'unknown_id' | 'too_far_behind' | 'fell_behind' }
  | { type: 'dropped'; reason: 'slow_reader' };

export interface Metrics {
  readonly registry: Registry;
  /** The registry as /metrics serves it: rendered at most once a second, shared by concurrent scrapes. */
  exposition(): Promise<string>;
  recordWebhook(type: string, outcome: WebhookOutcome): void;
  /** An accepted webhook event, by the Stripe API version it was rendered in. */
  recordWebhookApiVersion(apiVersion: string): void;
  /** One answer of GET /v1/entitlements, by the asking token's name (never the token) and status. */
  recordEntitlement(tokenName: string, status: string): void;
  /** Seconds from our endpoint accepting an event to `stage`: routed to a refresh, or the refresh applied. */
  observeEventLag(stage: 'routed' | 'applied', seconds: number): void;
  observeJob(queue: string, name: string, outcome: 'completed' | 'failed', seconds: number): void;
  recordCardExpiryOutcome(job: string, outcome: string): void;
  recordFeed(event: FeedEvent): void;
  /** One HTTP response from Stripe's API (429s included), by resource (`customers`, …) and status. */
  recordStripeResponse(method: string, resource: string, status: number, seconds: number): void;
  /** A recovery-funnel step that counted in this process (restored ones also observe the time to restore). */
  recordFunnelStep(step: CountedStep): void;
}

export interface MetricsDeps {
  clock: Clock;
  /**
   * How long the figures read from Redis are reused across scrapes (default 5 s; the rendered text, at most
   * 1 s); 0: only concurrent scrapes share.
   */
  collectEveryMs?: number;
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

export function createMetrics(deps: MetricsDeps): Metrics {
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
    help: 'Entitlement answers by the asking token (its configured name) and status.',
    labelNames: ['token', 'status'] as const,
    registers: [registry],
  });
  // Children made once per token name (names come from config, so few): the entitlement route is the hot
  // path, and an answer then costs two map lookups and one increment.
  type Child = ReturnType<typeof entitlements.labels>;
  const entitlementChildren = new Map<string, Map<string, Child>>();
  const childrenOf = (tokenName: string) => {
    let byStatus = entitlementChildren.get(tokenName);
    if (!byStatus) {
      byStatus = new Map(ENTITLEMENT_STATUSES.map((status) => [status, entitlements.labels(tokenName, status)]));
      // Zero series from the start, so rate() over a token's answers begins at zero rather than a gap.
      for (const child of byStatus.values()) child.inc(0);
      entitlementChildren.set(tokenName, byStatus);
    }
    return byStatus;
  };
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

  const feedStreams = new Gauge({
    name: 'subgate_feed_streams',
    help: 'Open change-feed streams (GET /v1/entitlements/events) in this process, by token name.',
    labelNames: ['token'] as const,
    registers: [registry],
  });
  const feedEvents = new Counter({
    name: 'subgate_feed_events_total',
    help: 'Change-feed streams refused (token_limit, process_limit), reset (why), or dropped (slow_reader).',
    labelNames: ['event', 'reason'] as const,
    registers: [registry],
  });

  const funnelSteps = new Counter({
    name: 'subgate_recovery_funnel_steps_total',
    help: 'Recovery-funnel steps by card problem (expired, expiring, failed_payment) and step (detected, notice_sent, link_opened, portal_session, card_updated, restored), each counted once per episode, in the process where it happened.',
    labelNames: ['problem', 'step'] as const,
    registers: [registry],
  });
  const restoreTime = new Histogram({
    name: 'subgate_recovery_restore_seconds',
    help: 'Seconds from a card problem being detected to the reader having access again, by problem.',
    labelNames: ['problem'] as const,
    buckets: [60, 600, 3600, 6 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 14 * 86_400, 30 * 86_400],
    registers: [registry],
  });

  const stripeRequests = new Counter({
    name: 'subgate_stripe_requests_total',
    help: 'Responses from the Stripe API by method, resource (the first path segment after /v1) and HTTP status; 429 is a rate refusal.',
    labelNames: ['method', 'resource', 'status'] as const,
    registers: [registry],
  });
  const stripeDuration = new Histogram({
    name: 'subgate_stripe_request_duration_seconds',
    help: 'Seconds a Stripe API request took, by resource.',
    labelNames: ['resource'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });

  const queues = deps.queues ?? [];
  const noCounts = async (): Promise<Record<string, number>> => ({});
  const readRedisFigures = shareCollection(
    async () => {
      const [jobs, events, notices] = await Promise.all([
        Promise.all(queues.map((queue) => queue.getJobCounts(...JOB_STATES))),
        (deps.eventCounts ?? noCounts)(),
        (deps.noticeCounts ?? noCounts)(),
      ]);
      return { jobs, events, notices };
    },
    { clock: deps.clock, maxAgeMs: deps.collectEveryMs ?? 5000 },
  );
  type RedisFigures = Awaited<ReturnType<typeof readRedisFigures>>;

  new Gauge({
    name: 'subgate_queue_jobs',
    help: 'Jobs per queue and state, read from Redis at scrape time (at most every few seconds).',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const { jobs } = await readRedisFigures();
      this.reset();
      queues.forEach((queue, i) => {
        for (const state of JOB_STATES) this.set({ queue: queue.name, state }, jobs[i]?.[state] ?? 0);
      });
    },
  });
  const fromStats = (name: string, help: string, labels: readonly [string, string], configured: boolean, pick: (figures: RedisFigures) => Record<string, number>) => {
    if (!configured) return;
    new Gauge({
      name,
      help,
      labelNames: labels,
      registers: [registry],
      async collect() {
        const counts = pick(await readRedisFigures());
        this.reset();
        for (const [field, count] of Object.entries(counts)) {
          const [a = '', b = ''] = field.split('|');
          this.set({ [labels[0]]: a, [labels[1]]: b }, count);
        }
      },
    });
  };
  fromStats('subgate_events_total', 'Stripe events processed by type and outcome (all processes; a counter kept in Redis).', ['type', 'outcome'], deps.eventCounts !== undefined, (f) => f.events);
  fromStats('subgate_notices_total', 'Notices by kind and outcome (all processes; a counter kept in Redis).', ['kind', 'outcome'], deps.noticeCounts !== undefined, (f) => f.notices);

  // Rendering costs CPU on the process answering entitlement checks (a few ms with the default metrics):
  // bounded too, so a scrape loop, authorised or not, costs at most one rendering a second.
  const exposition = shareCollection(() => registry.metrics(), { clock: deps.clock, maxAgeMs: Math.min(deps.collectEveryMs ?? 5000, 1000) });

  return {
    registry,
    exposition,
    recordWebhook(type, outcome) {
      webhooks.inc({ type, outcome });
    },
    recordWebhookApiVersion(apiVersion) {
      apiVersions.inc({ api_version: apiVersion });
    },
    recordEntitlement(tokenName, status) {
      (childrenOf(tokenName).get(status) ?? entitlements.labels(tokenName, status)).inc();
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
    recordStripeResponse(method, resource, status, seconds) {
      stripeRequests.inc({ method, resource, status: String(status) });
      stripeDuration.observe({ resource }, Math.max(0, seconds));
    },
    recordFunnelStep(step) {
      funnelSteps.inc({ problem: step.problem, step: step.step });
      if (step.step === 'restored') restoreTime.observe({ problem: step.problem }, step.sinceDetectedMs / 1000);
    },
    recordFeed(event) {
      if (event.type === 'opened') feedStreams.inc({ token: event.token });
      else if (event.type === 'closed') feedStreams.dec({ token: event.token });
      else feedEvents.inc({ event: event.type, reason: event.reason });
    },
  };
}
