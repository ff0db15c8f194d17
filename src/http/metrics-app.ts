/**
 * The worker process's own HTTP face (METRICS_PORT): its Prometheus registry at /metrics (behind
 * METRICS_TOKEN when set, as on the API), /healthz and /readyz for the orchestrator, nothing else.
 * A worker's figures (job durations, event lag, the funnel steps it took) live in its own process, so
 * Prometheus scrapes each worker as well as the API.
 */
import express, { type Express } from 'express';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { createMetricsRouter } from './metrics-route.js';
import { createHealthRouter } from './health-route.js';
import { NotFoundError, createErrorMiddleware } from './errors.js';
import { NOSNIFF } from './security-headers.js';

export function buildMetricsApp(deps: { metrics: Metrics; token: string | undefined; logger: Logger; ping: () => Promise<void> }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((_req, res, next) => {
    res.setHeader(NOSNIFF.name, NOSNIFF.value);
    next();
  });
  app.use(createHealthRouter({ ping: deps.ping }));
  app.use(createMetricsRouter(deps.metrics, { token: deps.token }));
  app.use(() => {
    throw new NotFoundError('No such route.');
  });
  app.use(createErrorMiddleware(deps.logger));
  return app;
}
