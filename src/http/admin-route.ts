/**
 * /admin/*: the operator's door, behind ADMIN_TOKEN (checked in constant time; 401 without it or with a
 * wrong one). Mounted only when ADMIN_TOKEN is set, so without it every admin path is a 404.
 *   GET  /admin/customers/:id  projection, entitlement now, its refresh/card-expiry/notice jobs
 *   POST /admin/resync         starts (or returns the running) resync job; GET /admin/resync/:id its progress
 *   POST /admin/recover-events runs missed-event recovery now
 *   /admin/queues              Bull Board over every queue
 * With `browser` deps a browser may log in instead (admin-session.ts) and gets the HTML pages
 * (admin-pages/); the bearer header keeps working for scripts either way.
 */
import express, { Router, type Express, type RequestHandler } from 'express';
import type { Job, Queue } from 'bullmq';
import { ExpressAdapter } from '@bull-board/express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { Clock, PolicySettings } from '../domain/projection.js';
import { decideEntitlement, decideFeatures } from '../domain/entitlement-policy.js';
import { featureSettingsOf } from '../domain/features.js';
import { isCustomerId } from '../domain/stripe-ids.js';
import { maskEmail } from '../domain/mask-email.js';
import type { SubscriberStore } from '../store/subscriber-store.js';
import type { OpsQueues, Producers, Queues } from '../queues.js';
import { createTokenCheck } from './bearer-auth.js';
import { AuthError, InvalidPathError, NotFoundError, ValidationError } from './errors.js';
import { BULL_BOARD_HEADERS, withHeaders } from './security-headers.js';
import { toEntitlementBody } from './entitlement-response.js';
import { createAdminAuth, type AdminSessionDeps } from './admin-session.js';
import { createAdminPagesRouter, type AdminPagesDeps } from './admin-pages/router.js';
import { createGrantsRouter, type GrantsRouteDeps } from './grants-route.js';

/** What the browser side of /admin needs: the session store and its settings (the token is adminToken), and what the pages read. */
export type AdminBrowserDeps = Omit<AdminSessionDeps, 'adminToken'> & Omit<AdminPagesDeps, 'store' | 'clock' | 'policy'>;

export interface AdminRouteDeps {
  adminToken: string;
  store: SubscriberStore;
  clock: Clock;
  policy: PolicySettings;
  opsQueues: Pick<OpsQueues, 'resync' | 'eventRecovery'>;
  producers: Pick<Producers, 'resync' | 'recoverEvents'>;
  /** The queues whose jobs the customer view lists; any left out are skipped. */
  queues?: Partial<Pick<Queues, 'customerSync' | 'cardExpiry' | 'notices' | 'stripeEvents'>>;
  /** Browser sessions and the HTML pages; without them only the bearer header opens /admin. */
  browser?: AdminBrowserDeps;
  /** /admin/grants (grants-route.ts); left out, those paths are 404s. */
  grants?: GrantsRouteDeps;
}

/** Jobs scanned per queue for the customer view: enough for what BullMQ keeps, bounded for Redis. */
const JOB_SCAN_LIMIT = 1000;

const refuseUndecodablePath: RequestHandler = (req, _res, next) => {
  try {
    decodeURIComponent(req.path);
  } catch {
    throw new InvalidPathError();
  }
  next();
};

export function createAdminRouter(deps: AdminRouteDeps): Router {
  const router = Router();
  const checkToken = createTokenCheck([deps.adminToken]);
  const bearerOnly: RequestHandler = (req, _res, next) => {
    if (!checkToken(req.headers.authorization)) throw new AuthError();
    next();
  };
  const auth = deps.browser ? createAdminAuth({ adminToken: deps.adminToken, ...deps.browser }) : null;
  if (auth) router.use(auth.router);
  router.use('/admin', auth?.requireAdmin ?? bearerOnly);
  if (auth && deps.browser) router.use(createAdminPagesRouter({ ...deps.browser, store: deps.store, clock: deps.clock, policy: deps.policy }, auth.requireCsrf));

  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  const q = deps.queues ?? {};
  const boardQueues = [deps.opsQueues.resync, deps.opsQueues.eventRecovery, q.stripeEvents, q.customerSync, q.cardExpiry, q.notices].filter(
    (queue): queue is NonNullable<typeof queue> => queue !== undefined,
  ) as unknown as Queue[];
  createBullBoard({ queues: boardQueues.map((queue) => new BullMQAdapter(queue)), serverAdapter: board });
  // Bull Board is an Express app of its own: it would name itself in X-Powered-By, and answer a path
  // that does not decode with its own error shape. Ours come first.
  const boardApp = board.getRouter() as Express;
  boardApp.disable('x-powered-by');
  router.use('/admin/queues', withHeaders(BULL_BOARD_HEADERS), refuseUndecodablePath, boardApp);

  router.get('/admin/customers/:id', async (req, res) => {
    const customerId = String(req.params.id);
    if (!isCustomerId(customerId)) throw new ValidationError('invalid_customer', 'customer must be a Stripe customer id (cus_…).');
    const projection = await deps.store.read(customerId);
    if (!projection) throw new NotFoundError(`No projection for ${customerId}.`);
    const now = deps.clock.now();
    const entitlement = decideEntitlement(projection, now, deps.policy);
    const [refreshes, cardJobs, notices] = await Promise.all([
      jobsOf(q.customerSync, customerId),
      jobsOf(q.cardExpiry, customerId),
      jobsOf(q.notices, customerId),
    ]);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      customer: customerId,
      projection: { ...projection, email: maskEmail(projection.email), read_at: new Date(projection.read_at).toISOString() },
      entitlement: toEntitlementBody({
        customer: customerId,
        user: projection.user,
        entitlement,
        updateCardUrl: null,
        now,
        feature: featureSettingsOf(deps.policy).defaultFeature,
        features: decideFeatures(projection, now, deps.policy),
      }),
      refreshes,
      card_expiry_jobs: cardJobs,
      notices,
    });
  });

  router.post('/admin/resync', express.json({ limit: '1kb' }), async (req, res) => {
    const fresh = (req.body as { fresh?: unknown } | undefined)?.fresh === true;
    const job = await deps.producers.resync('admin', fresh);
    res.status(202).json(await describeJob(job));
  });

  router.get('/admin/resync/:jobId', async (req, res) => {
    const job = await deps.opsQueues.resync.getJob(String(req.params.jobId));
    if (!job) throw new NotFoundError('No such resync job.');
    res.json(await describeJob(job));
  });

  router.post('/admin/recover-events', async (_req, res) => {
    const job = await deps.producers.recoverEvents('admin');
    res.status(202).json(await describeJob(job));
  });

  if (deps.grants) router.use(createGrantsRouter(deps.grants));

  return router;
}

async function describeJob(job: Job) {
  return {
    job_id: job.id ?? null,
    state: await job.getState(),
    progress: job.progress ?? null,
    result: job.returnvalue ?? null,
    failed_reason: job.failedReason ?? null,
  };
}

/** A customer's jobs among the most recent ones a queue keeps, newest first, as id/name/state/times. */
async function jobsOf(queue: Queue | undefined, customerId: string) {
  if (!queue) return [];
  const jobs = (await queue.getJobs(['active', 'waiting', 'prioritized', 'delayed', 'completed', 'failed'], 0, JOB_SCAN_LIMIT)) as Job[];
  const mine = jobs.filter((job) => job && (job.data as { customerId?: unknown } | undefined)?.customerId === customerId);
  return Promise.all(
    mine
      .sort((a, b) => b.timestamp - a.timestamp)
      .slice(0, 50)
      .map(async (job) => {
        const data = job.data as { reason?: unknown; eventId?: unknown; kind?: unknown };
        return {
          id: job.id ?? null,
          name: job.name,
          state: await job.getState(),
          created_at: new Date(job.timestamp).toISOString(),
          run_at: job.delay > 0 ? new Date(job.timestamp + job.delay).toISOString() : null,
          finished_at: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
          ...(typeof data.reason === 'string' ? { reason: data.reason } : {}),
          ...(typeof data.eventId === 'string' ? { event_id: data.eventId } : {}),
          ...(typeof data.kind === 'string' ? { kind: data.kind } : {}),
          failed_reason: job.failedReason || null,
        };
      }),
  );
}
