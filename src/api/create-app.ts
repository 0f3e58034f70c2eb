import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { SealPassphrase } from '../age/passphrase-sealer.js';
import type { TokenStore } from '../auth/token-store.js';
import type { Logger } from '../logging/create-logger.js';
import { createServiceMetrics, type ServiceMetrics } from '../metrics/service-metrics.js';
import type { Queues } from '../queue/queues.js';
import type { BackupStore } from '../storage/backup-store.js';
import { limitFailedAuth, requireToken } from './auth.js';
import { DASHBOARD_PATH, dashboardHandlers } from './dashboard.js';
import { errorHandler, notFoundError } from './http-errors.js';
import { requestLog } from './request-log.js';
import { backupsRouter } from './routes/backups-router.js';
import { healthRouter } from './routes/health-router.js';
import { jobsRouter } from './routes/jobs-router.js';
import { metricsRouter } from './routes/metrics-router.js';
import { OPENAPI_PATH, openapiRouter } from './routes/openapi-router.js';

/** AppDependencies is what the API needs, built once by the process's composition root. */
export interface AppDependencies {
  queues: Queues;
  redis: Redis;
  store: BackupStore | undefined;
  tokens: TokenStore;
  logger: Logger;
  /** The process's metrics; by default the app builds its own from queues and redis. */
  metrics?: ServiceMetrics;
  /** Extra routers mounted before the 404 handler (metrics, OpenAPI). */
  extraRoutes?: (app: Express) => void;
  authRateLimit?: { windowMs?: number; limit?: number };
  /** TRUST_PROXY: the proxies whose X-Forwarded-For names the client (rate limits, logs). */
  trustProxy?: number | string[];
  /** Seals request passphrases for the live workers (issue 7); without it passphrase requests answer 503. */
  sealPassphrase?: SealPassphrase;
}

/** createApp builds the Express app: JSON API, dashboard, and one error handler for all of it. */
export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (deps.trustProxy !== undefined) app.set('trust proxy', deps.trustProxy);
  app.use(requestLog(deps.logger));
  app.use(express.json({ limit: '16kb', strict: true }));

  const failedAuthLimit = limitFailedAuth(deps.authRateLimit);
  const superadmin = requireToken(deps.tokens, ['superadmin']);
  const anyToken = requireToken(deps.tokens, ['superadmin', 'viewer']);

  app.use('/api/health', healthRouter({ redis: deps.redis, store: deps.store }));
  app.use(OPENAPI_PATH, openapiRouter());
  app.use('/api/backups', failedAuthLimit, superadmin, backupsRouter({ store: deps.store, queues: deps.queues, logger: deps.logger, ...(deps.sealPassphrase ? { sealPassphrase: deps.sealPassphrase } : {}) }));
  app.use('/api/jobs', failedAuthLimit, anyToken, jobsRouter(deps.queues));
  app.use('/metrics', failedAuthLimit, anyToken, metricsRouter(deps.metrics ?? createServiceMetrics({ queues: deps.queues, redis: deps.redis })));
  app.use(DASHBOARD_PATH, failedAuthLimit, requireToken(deps.tokens, ['superadmin'], 'Basic'), ...dashboardHandlers(deps.queues));
  deps.extraRoutes?.(app);

  app.use((_req, _res, next) => next(notFoundError()));
  app.use(errorHandler(deps.logger));
  return app;
}
