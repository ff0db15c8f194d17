/** GET /metrics: the process's Prometheus registry in the text exposition format. */
import { Router } from 'express';
import type { Metrics } from '../metrics/metrics.js';

export function createMetricsRouter(metrics: Metrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const body = await metrics.registry.metrics();
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(body);
  });
  return router;
}
