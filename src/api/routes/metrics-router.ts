import { Router } from 'express';
import type { ServiceMetrics } from '../../metrics/service-metrics.js';

/** metricsRouter serves `GET /metrics` in Prometheus text format; the caller puts auth in front. */
export function metricsRouter(metrics: ServiceMetrics): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    const text = await metrics.render();
    // Every scrape must see fresh numbers, never a proxy's copy.
    res.setHeader('Cache-Control', 'no-store');
    res.type(metrics.contentType).send(text);
  });
  return router;
}
