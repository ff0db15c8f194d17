/**
 * GET /metrics: the process's Prometheus registry in the text exposition format. With METRICS_TOKEN set,
 * a scraper must present it as a bearer token (checked in constant time, 401 otherwise); without it the
 * route stays open, as Prometheus setups written before the token expect (start-up warns about it).
 */
import { Router } from 'express';
import type { Metrics } from '../metrics/metrics.js';
import { createTokenCheck } from './bearer-auth.js';
import { AuthError } from './errors.js';

export function createMetricsRouter(metrics: Metrics, options: { token?: string | undefined } = {}): Router {
  const router = Router();
  const checkToken = options.token ? createTokenCheck([options.token]) : null;
  router.get('/metrics', async (req, res) => {
    if (checkToken && !checkToken(req.headers.authorization)) throw new AuthError();
    const body = await metrics.exposition();
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(body);
  });
  return router;
}
