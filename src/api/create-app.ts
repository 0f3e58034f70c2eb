import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { SealPassphrase } from '../age/passphrase-sealer.js';
import type { TokenStore } from '../auth/token-store.js';
import type { Logger } from '../logging/create-logger.js';
import { createServiceMetrics, type ServiceMetrics } from '../metrics/service-metrics.js';
import type { Queues } from '../queue/queues.js';
import type { BackupStore } from '../storage/backup-store.js';
import { requireToken } from './auth.js';
import { DASHBOARD_PATH, dashboardHandlers } from './dashboard.js';
import { failedTokenLimit } from './failed-token-limit.js';
import { errorHandler, notFoundError } from './http-errors.js';
import { requestLog } from './request-log.js';
import { VerificationRecords, verificationsKey } from '../verification/verification-records.js';
import { backupsRouter } from './routes/backups-router.js';
import { sourcesRouter } from './routes/sources-router.js';
import { singleSourceCatalog, type SourceCatalog } from './source-catalog.js';
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
  /**
   * The master key, which vouches for the last-success time in Redis (job-stats.ts); without it
   * that gauge reads 0, as nothing can be verified.
   */
  masterKey?: Buffer | undefined;
  /** MASTER_KEY_PREVIOUS: restore drills' and anomaly records signed before a key rotation still count. */
  previousMasterKeys?: readonly Buffer[];
  /** Seals request passphrases for the live workers (issue 7); without it passphrase requests answer 503. */
  sealPassphrase?: SealPassphrase;
  /** The declared sources and their stores (issue 14); by default one `default` source on `store`. */
  catalog?: SourceCatalog;
}

/** createApp builds the Express app: JSON API, dashboard, and one error handler for all of it. */
export function createApp(deps: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (deps.trustProxy !== undefined) app.set('trust proxy', deps.trustProxy);
  app.use(requestLog(deps.logger));
  app.use(express.json({ limit: '16kb', strict: true }));

  // One budget per app: a client's failed tokens count the same on every route.
  const failedTokens = failedTokenLimit({ ...deps.authRateLimit, logger: deps.logger });
  const superadmin = requireToken(deps.tokens, ['superadmin'], { failedTokens });
  const anyToken = requireToken(deps.tokens, ['superadmin', 'viewer'], { failedTokens });

  // Restore drills' records (issue 16): signed in Redis, vouched for by any of the master keys.
  const masterKeys = [deps.masterKey, ...(deps.previousMasterKeys ?? [])];
  const verifications = new VerificationRecords(deps.redis, verificationsKey(deps.queues), masterKeys);
  app.use('/api/health', healthRouter({ redis: deps.redis, store: deps.store, verifications }));
  app.use(OPENAPI_PATH, openapiRouter());
  const catalog = deps.catalog ?? singleSourceCatalog(deps.store);
  const backupDeps = { catalog, queues: deps.queues, logger: deps.logger, masterKeys, verifications, ...(deps.sealPassphrase ? { sealPassphrase: deps.sealPassphrase } : {}) };
  app.use('/api/backups', superadmin, backupsRouter(backupDeps));
  app.use('/api/sources', superadmin, sourcesRouter({ ...backupDeps, redis: deps.redis, queuePrefix: deps.queues.backup.opts.prefix ?? 'bull' }));
  app.use('/api/jobs', anyToken, jobsRouter(deps.queues));
  app.use('/metrics', anyToken, metricsRouter(deps.metrics ?? createServiceMetrics({
    queues: deps.queues, redis: deps.redis, masterKey: deps.masterKey, previousMasterKeys: deps.previousMasterKeys ?? [], logger: deps.logger,
    sources: () => catalog.sources().map((s) => s.name),
  })));
  // Viewer tokens only: the dashboard's password lives in browsers (saved, sent with every request),
  // so it must be one that can change nothing; a superadmin token is refused here (issue 13 review).
  app.use(DASHBOARD_PATH, requireToken(deps.tokens, ['viewer'], { scheme: 'Basic', failedTokens }), ...dashboardHandlers(deps.queues));
  deps.extraRoutes?.(app);

  app.use((_req, _res, next) => next(notFoundError()));
  app.use(errorHandler(deps.logger));
  return app;
}
