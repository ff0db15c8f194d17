/**
 * The operations side (issue 5) on top of a harness: an app built from the harness's parts plus metrics
 * and the admin routes, the ops queues, the resync and recovery, and their workers. Only this app counts
 * metrics, so events meant to move them are delivered through `deliver` here.
 */
import request from 'supertest';
import type { Queue } from 'bullmq';
import { buildApp } from '../../src/app.js';
import { createSilentLogger } from '../../src/logger.js';
import { createOpsQueues, createQueues, type OpsQueues } from '../../src/queues.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { instrumentWorkers } from '../../src/metrics/worker-metrics.js';
import { createOperations, type Operations } from '../../src/backfill/operations.js';
import { createOpsWorkers, type OpsWorkers } from '../../workers/ops-workers.js';
import { createAccessRestorer } from '../../src/billing/restore-access.js';
import { createPortalSessionOpener } from '../../src/billing/portal-sessions.js';
import { createPortalSessionStore } from '../../src/store/billing-link-throttle.js';
import {
  API_TOKEN,
  POLICY,
  PUBLISHER_NAME,
  PORTAL_SESSIONS,
  PUBLISHER_RETURN_URL,
  SUPPORT_EMAIL,
  WEBHOOK_SECRET,
  createHarness,
  type Harness,
  type HarnessOptions,
} from './harness.js';

export const ADMIN_TOKEN = 'harness-admin-token-0123456789';

export interface OpsHarness {
  h: Harness;
  app: ReturnType<typeof buildApp>;
  opsQueues: OpsQueues;
  operations: Operations;
  opsWorkers: OpsWorkers | null;
  metrics: Metrics;
  deliver(event: { id: string }): Promise<request.Response>;
  admin(method: 'get' | 'post', path: string, token?: string | null): request.Test;
  close(): Promise<void>;
}

export async function createOpsHarness(options: HarnessOptions & { adminToken?: string | null; opsWorkers?: boolean }): Promise<OpsHarness> {
  const h = await createHarness(options);
  const logger = options.logger ?? createSilentLogger();
  const apiQueues = createQueues(h.apiRedis, h.prefix);
  const opsQueues = createOpsQueues(h.workerRedis, h.prefix);
  const apiOpsQueues = createOpsQueues(h.apiRedis, h.prefix);
  const metrics = createMetrics({
    clock: h.clock,
    // The test clock stands still: share concurrent scrapes only, so each scrape reads Redis afresh.
    collectEveryMs: 0,
    queues: [apiQueues.stripeEvents, apiQueues.customerSync, apiQueues.cardExpiry, apiQueues.notices, apiOpsQueues.backfill, apiOpsQueues.eventRecovery] as Queue[],
    eventCounts: () => h.ledger.counts(),
  });
  const operations = createOperations({
    redis: h.workerRedis,
    prefix: h.prefix,
    stripe: h.stripeClient,
    store: h.store,
    ledger: h.ledger,
    queues: h.queues,
    clock: h.clock,
    logger,
    userIdMetadataKey: 'user_id',
    stripeRequestsPerSecond: 10_000,
    backfillRetry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 50 },
    ...(h.expiry ? { afterWrite: h.expiry.afterWrite } : {}),
  });
  const adminToken = options.adminToken === undefined ? ADMIN_TOKEN : options.adminToken;
  const app = buildApp({
    store: h.store,
    ledger: h.ledger,
    queues: apiQueues,
    clock: h.clock,
    logger,
    ping: async () => {
      await h.apiRedis.ping();
    },
    webhookSecrets: [WEBHOOK_SECRET],
    entitlementTokens: [API_TOKEN],
    policy: POLICY,
    metrics,
    ...(h.links && h.billing && h.expiry
      ? {
          billing: {
            links: h.links,
            openPortal: createPortalSessionOpener({
              portal: h.billing,
              sessions: createPortalSessionStore({ redis: h.apiRedis, prefix: h.prefix, clock: h.clock, ...PORTAL_SESSIONS }),
            }),
            restoreAccess: createAccessRestorer({ syncCustomer: h.syncCustomer, store: h.store, recovery: h.expiry.recovery }),
            publisherReturnUrl: PUBLISHER_RETURN_URL,
            publisherName: PUBLISHER_NAME,
            supportEmail: SUPPORT_EMAIL,
            logger,
          },
        }
      : {}),
    ...(adminToken
      ? { admin: { adminToken, store: h.store, clock: h.clock, policy: POLICY, opsQueues: apiOpsQueues, queues: apiQueues } }
      : {}),
  });
  if (h.workers) {
    const w = h.workers;
    instrumentWorkers({ metrics, workers: [w.eventWorker, w.syncWorker, w.expiryWorker, w.noticeWorker] as never, clock: h.clock, ledger: h.ledger });
  }
  const opsWorkers =
    options.opsWorkers === false
      ? null
      : createOpsWorkers({ connection: h.workerRedis, prefix: h.prefix, logger, runBackfill: operations.runBackfill, recoverEvents: operations.recoverEvents });

  return {
    h,
    app,
    opsQueues,
    operations,
    opsWorkers,
    metrics,
    deliver(event) {
      const { payload, header } = h.stripe.sign(event as never, WEBHOOK_SECRET, { timestamp: Math.floor(h.clock.now() / 1000) });
      return request(app).post('/webhooks/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', header).send(payload);
    },
    admin(method, path, token = adminToken) {
      const req = request(app)[method](path);
      return token ? req.set('Authorization', `Bearer ${token}`) : req;
    },
    async close() {
      await opsWorkers?.close();
      await Promise.allSettled([apiQueues.close(), opsQueues.close(), apiOpsQueues.close()]);
      await h.close();
    },
  };
}
