/**
 * buildApp(deps): the HTTP face of subgate as a request listener that never listens and reads no
 * environment; `src/main.ts` wires real parts into node:http, tests wire test ones and drive it with
 * supertest. The entitlement check is answered before Express (see entitlements-route.ts); everything
 * else is the Express app, exposed as `.express`.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import type { Logger } from './logger.js';
import type { Clock, Entitlement, PolicySettings } from './domain/projection.js';
import type { SubscriberStore } from './store/subscriber-store.js';
import type { AcceptEvent } from './sync/accept-event.js';
import { createTokenCheck, type ApiToken } from './http/bearer-auth.js';
import { createWebhookRouter } from './http/webhook-route.js';
import { createEntitlementsFastPath, createEntitlementsHandler, createEntitlementsRouter } from './http/entitlements-route.js';
import { createHealthRouter } from './http/health-route.js';
import { createBillingRouter, type BillingRouteDeps } from './http/billing-route.js';
import { NotFoundError, createErrorMiddleware, resolveError, writeError } from './http/errors.js';
import { createAdminRouter, type AdminRouteDeps } from './http/admin-route.js';
import { createMetricsRouter } from './http/metrics-route.js';
import { createOpenApiRouter } from './http/openapi.js';
import { createEntitlementEventsRouter, type EntitlementEventsOptions } from './http/entitlement-events-route.js';
import type { EntitlementChangeReader } from './store/entitlement-change-reader.js';
import { createRequestLog } from './http/request-log.js';
import { NOSNIFF } from './http/security-headers.js';
import type { Metrics } from './metrics/metrics.js';
import type { grantKeys } from './store/grant-store.js';

export interface AppDeps {
  store: SubscriberStore;
  /** Where readers' grants live (store/grant-store.ts's helper), read along with each answer. */
  grantKeys: ReturnType<typeof grantKeys>;
  /** Claims and enqueues a verified webhook event (the ledger and the stripe-events producer). */
  acceptEvent: AcceptEvent;
  /** The webhook's deadline for its Redis work, when replicas must acknowledge it (else the route's default). */
  webhookRedisDeadlineMs?: number;
  clock: Clock;
  logger: Logger;
  ping: () => Promise<void>;
  webhookSecrets: readonly string[];
  /** ENTITLEMENT_API_TOKENS as config parses them; a bare string is a token with every scope. */
  entitlementTokens: readonly (ApiToken | string)[];
  policy: PolicySettings;
  updateCardUrlFor?: (customerId: string, entitlement: Entitlement) => string | null;
  /** The update-card link routes; mounted only when LINK_SIGNING_SECRET is configured. */
  billing?: BillingRouteDeps;
  /** Prometheus metrics at /metrics; without it no /metrics and no counting. */
  metrics?: Metrics;
  /** METRICS_TOKEN: when set, /metrics wants it as a bearer token; without it /metrics is open. */
  metricsToken?: string | undefined;
  /** The /admin routes and Bull Board; mounted only when ADMIN_TOKEN is configured (else 404). */
  admin?: AdminRouteDeps;
  /** Live entitlement changes at GET /v1/entitlements/events (SSE); without a reader that route answers 503. */
  entitlementEvents?: { reader: EntitlementChangeReader } & EntitlementEventsOptions;
}

export type SubgateApp = RequestListener & { express: Express };

export function buildApp(deps: AppDeps): SubgateApp {
  const app = express();
  app.disable('x-powered-by');
  // Entitlement answers are per reader and change at any time: never a weak-ETag 304 from a cache.
  app.disable('etag');
  // One flat parser: `?customer=a&customer=b` stays an array (and is refused), no qs nesting to walk.
  app.set('query parser', 'simple');

  app.use(createHealthRouter({ ping: deps.ping }));
  const entitlements = createEntitlementsHandler({
    store: deps.store,
    grantKeys: deps.grantKeys,
    checkToken: createTokenCheck(deps.entitlementTokens),
    clock: deps.clock,
    policy: deps.policy,
    ...(deps.updateCardUrlFor ? { updateCardUrlFor: deps.updateCardUrlFor } : {}),
    ...(deps.metrics ? { onAnswer: deps.metrics.recordEntitlement } : {}),
  });
  // Also routed in Express (HEAD, the route table the OpenAPI test walks); GETs take the fast path.
  app.use(createEntitlementsRouter(entitlements));
  // Stripe's deliveries: counted by outcome in the metrics and logged when refused or duplicated (the error
  // middleware, the route itself), but no access-log line each: at Stripe's delivery rates that line was
  // the largest cost of an accepted event after Redis.
  app.use(
    createWebhookRouter({
      webhookSecrets: deps.webhookSecrets,
      acceptEvent: deps.acceptEvent,
      ...(deps.webhookRedisDeadlineMs ? { redisDeadlineMs: deps.webhookRedisDeadlineMs } : {}),
      clock: deps.clock,
      logger: deps.logger,
      ...(deps.metrics ? { onOutcome: deps.metrics.recordWebhook, onApiVersion: deps.metrics.recordWebhookApiVersion } : {}),
    }),
  );
  // Request ids and access logs for everything below; the entitlement hot path and the webhook above pay nothing.
  app.use(createRequestLog(deps.logger));
  app.use(createOpenApiRouter());
  // Not the fast path's: that one matches the exact path '/v1/entitlements' only.
  app.use(
    createEntitlementEventsRouter({
      checkToken: createTokenCheck(deps.entitlementTokens),
      logger: deps.logger,
      ...(deps.entitlementEvents ?? {}),
      ...(deps.metrics ? { onFeedEvent: deps.metrics.recordFeed } : {}),
    }),
  );
  if (deps.metrics) app.use(createMetricsRouter(deps.metrics, { token: deps.metricsToken }));
  if (deps.billing) app.use(createBillingRouter(deps.billing));
  if (deps.admin) app.use(createAdminRouter(deps.admin));
  app.use(() => {
    throw new NotFoundError('No such route.');
  });
  app.use(createErrorMiddleware(deps.logger));

  const fastPath = createEntitlementsFastPath(entitlements, (err, req, res) => {
    writeError(res, resolveError(err, deps.logger, { method: req.method, path: '/v1/entitlements' }));
  });
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    // Before anything answers, the fast path included: one constant header, nothing computed.
    res.setHeader(NOSNIFF.name, NOSNIFF.value);
    if (!fastPath(req, res)) app(req, res);
  };
  return Object.assign(listener, { express: app });
}
