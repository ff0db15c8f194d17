/**
 * /healthz says the process is up (for liveness probes: no dependency checked, so a Redis blip never
 * restarts it); /readyz says Redis answers (for readiness: take the instance out of rotation until then).
 */
import { Router } from 'express';

export interface HealthRouteDeps {
  /** Resolves when storage answers, rejects otherwise. */
  ping: () => Promise<void>;
}

export function createHealthRouter(deps: HealthRouteDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await deps.ping();
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable', error: { code: 'unavailable', message: 'Redis does not answer.' } });
    }
  });
  return router;
}
