/**
 * The operations side on top of a harness: the harness's API side with metrics and the admin routes, and
 * the resync and missed-event recovery workers on its worker side, all from src/composition.ts. Only this
 * app counts metrics, so events meant to move them are delivered through `deliver` here.
 */
import request from 'supertest';
import type { SubgateApp } from '../../src/app.js';
import type { OpsQueues } from '../../src/queues.js';
import type { Metrics } from '../../src/metrics/metrics.js';
import { instrumentWorkers } from '../../src/metrics/worker-metrics.js';
import { systemClock } from '../../src/runtime.js';
import { buildApi, buildMetrics, buildGrantsRouteDeps, type Services } from '../../src/composition.js';
import { createOpsWorkers, type OpsWorkers } from '../../workers/worker-set.js';
import { WEBHOOK_SECRET, createHarness, type Harness, type HarnessOptions } from './harness.js';

export const ADMIN_TOKEN = 'harness-admin-token-0123456789';

export interface OpsHarness {
  h: Harness;
  app: SubgateApp;
  opsQueues: OpsQueues;
  /** The worker side's resync and missed-event recovery. */
  operations: Pick<Services, 'runResync' | 'recoverEvents' | 'resyncStore' | 'eventRecoveryStore'>;
  opsWorkers: OpsWorkers | null;
  metrics: Metrics;
  deliver(event: { id: string }): Promise<request.Response>;
  admin(method: 'get' | 'post', path: string, token?: string | null): request.Test;
  close(): Promise<void>;
}

export async function createOpsHarness(options: HarnessOptions & { adminToken?: string | null; opsWorkers?: boolean }): Promise<OpsHarness> {
  const h = await createHarness(options);
  const { api, worker } = h;
  // The test clock stands still: share concurrent scrapes only, so each scrape reads Redis afresh.
  const metrics = buildMetrics(api, { defaultMetrics: false, collectEveryMs: 0 });
  const adminToken = options.adminToken === undefined ? ADMIN_TOKEN : options.adminToken;
  const app = buildApi(api, {
    ping: async () => {
      await h.apiRedis.ping();
    },
    metrics,
    overrides: adminToken
      ? {
          admin: {
            adminToken,
            store: api.store,
            clock: h.clock,
            policy: h.config.policy,
            opsQueues: api.opsQueues,
            queues: api.queues,
            producers: api.producers,
            grants: buildGrantsRouteDeps(api),
          },
        }
      : {},
  });
  if (h.workers) {
    const w = h.workers;
    instrumentWorkers({ metrics, workers: [w.eventWorker, w.syncWorker, w.expiryWorker, w.noticeWorker] as never, clock: h.clock, ledger: h.ledger });
  }
  const opsWorkers =
    options.opsWorkers === false
      ? null
      : createOpsWorkers({
          connection: h.workerRedis,
          prefix: h.prefix,
          logger: worker.logger,
          queueClock: systemClock,
          runResync: worker.runResync,
          recoverEvents: worker.recoverEvents,
        });

  return {
    h,
    app,
    opsQueues: worker.opsQueues,
    operations: worker,
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
      await h.close();
    },
  };
}
