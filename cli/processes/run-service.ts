import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { answerClientErrors } from '../../src/api/answer-client-errors.js';
import { passphraseSealer } from '../../src/age/passphrase-sealer.js';
import { createApp } from '../../src/api/create-app.js';
import { sourceCatalog } from '../../src/api/source-catalog.js';
import { openTokenStore } from '../../src/auth/open-token-store.js';
import type { TokenStore } from '../../src/auth/token-store.js';
import type { Config } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logging/create-logger.js';
import { listBackups } from '../../src/backups/list-backups.js';
import { jobStatsKey, jobStatsRecorder, seedLastSuccessfulBackup } from '../../src/metrics/job-stats.js';
import { refusedJobRecorder, refusedJobsKey } from '../../src/metrics/refused-jobs.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/queue/embedded-redis.js';
import { answersPing, createRedisConnection, describeRedisTarget, waitUntilReady, type RedisTarget } from '../../src/queue/redis-connection.js';
import { createQueues } from '../../src/queue/queues.js';
import { createStore } from '../../src/storage/create-store.js';
import { startWorkers, type RunningWorkers } from '../../workers/runtime/start-workers.js';
import { heartbeatFileName, startHeartbeat, type Heartbeat } from '../../workers/runtime/heartbeat.js';
import { VERSION } from '../../src/version.js';

export type ServiceRole = 'serve' | 'api' | 'worker';

/** ServiceOptions are internal knobs, not settings: tests shorten the heartbeat with them. */
export interface ServiceOptions {
  /** How often the worker heartbeat is written (default HEARTBEAT_INTERVAL_MS, 10 s). */
  heartbeatIntervalMs?: number;
}

// An active backup may need this long to finish before a stop hands it back to the queue.
const SHUTDOWN_GRACE_MS = 30_000;
// A heartbeat is written only if Redis answers a PING within this long.
const HEARTBEAT_PING_TIMEOUT_MS = 5_000;

/**
 * runService is the composition root of `serve`, `api` and `worker`: it builds config, logger,
 * Redis, store and queues once, starts what the role needs, and stops it all on SIGTERM/SIGINT.
 */
export async function runService(role: ServiceRole, config: Config, options: ServiceOptions = {}): Promise<void> {
  const logger = createLogger(config.log);
  let embedded: EmbeddedRedis | undefined;
  let target: RedisTarget;
  if (config.redisUrl) target = { url: config.redisUrl };
  else if (role === 'serve') {
    embedded = await startEmbeddedRedis(config.stateDir, logger);
    target = { socketPath: embedded.socketPath };
  } else {
    throw new ConfigError([`REDIS_URL: is required by \`snapkeep ${role}\` (only \`snapkeep serve\` embeds a Redis)`]);
  }

  // The store warns through the service log (e.g. a failed upload it could not abort).
  const store = config.store ? createStore(config.store, { logger }) : undefined;
  // The API's and the scheduler's connection fails fast, so no request hangs while Redis is away.
  const producer = createRedisConnection(target, 'producer');
  producer.on('error', (err: Error) => logger.warn('redis connection error', { error: err.message }));
  // In compose Redis may come up after us: wait a minute before giving up.
  await waitUntilReady(producer, 60_000);
  const queues = createQueues(config, producer);
  const connections: Redis[] = [producer];
  const connect = (): Redis => {
    const c = createRedisConnection(target, 'worker');
    connections.push(c);
    return c;
  };

  let workers: RunningWorkers | undefined;
  if (role !== 'api') {
    if (store) {
      // Job metrics go to Redis, not this process's memory: an `api` process elsewhere serves /metrics.
      const statsKey = jobStatsKey(queues);
      workers = await startWorkers({
        config, store, queues, logger, connect,
        onJobFinished: jobStatsRecorder(producer, statsKey, logger, config.masterKey),
        onJobRefused: refusedJobRecorder(producer, refusedJobsKey(queues), logger),
      });
      void seedLastSuccessfulBackup(producer, statsKey, () => listBackups(store, { logger }), logger, config.masterKey);
    }
    else logger.warn('backups are disabled (BACKUP_S3_ENDPOINT and BACKUP_LOCAL_DIR are unset): no worker started');
  }

  let server: Server | undefined;
  let tokens: TokenStore | undefined;
  if (role !== 'worker') {
    tokens = await openTokenStore(config, { redis: producer, logger, poll: true });
    // Passphrases are sealed for the live workers before they reach Redis (issue 7).
    const sealPassphrase = passphraseSealer(producer, config);
    const catalog = sourceCatalog(config, store, logger);
    const app = createApp({ queues, redis: producer, store, tokens, logger, sealPassphrase, catalog, masterKey: config.masterKey, previousMasterKeys: config.previousMasterKeys, ...(config.trustProxy !== undefined ? { trustProxy: config.trustProxy } : {}) });
    server = await new Promise<Server>((resolve, reject) => {
      // Express 5 hands a listen error (EADDRINUSE) to this callback instead of emitting it.
      const s = app.listen(config.port, config.host, (err?: Error) => (err ? reject(err) : resolve(s)));
    });
    answerClientErrors(server);
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    logger.info('api listening', { url: `http://${config.host}:${port}`, dashboard: `http://${config.host}:${port}/admin/queues` });
  }
  // STATE_DIR/worker.{hostname}.heartbeat stays fresh while the workers run and Redis answers (a health check
  // reads its mtime): it goes stale when the event loop is stuck or Redis is gone. Started once all
  // is up, so a `serve` whose port is taken never writes one.
  let heartbeat: Heartbeat | undefined;
  if (workers) {
    const running = workers;
    heartbeat = startHeartbeat({
      path: join(config.stateDir, heartbeatFileName()),
      role,
      logger,
      ...(options.heartbeatIntervalMs !== undefined ? { intervalMs: options.heartbeatIntervalMs } : {}),
      isAlive: async () => {
        if (!running.workers.every((w) => w.isRunning())) return false;
        if (!connections.every((c) => c.status === 'ready')) return false;
        return answersPing(producer, HEARTBEAT_PING_TIMEOUT_MS);
      },
    });
  }

  logger.info('snapkeep started', { role, version: VERSION, redis: describeRedisTarget(target), store: store?.description ?? 'disabled' });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    // A stopping process takes no more jobs: no more beats, and the file is removed (awaited below).
    const stoppingHeartbeat = heartbeat?.stop();
    const closingServer = server ? new Promise<void>((resolve) => server!.close(() => resolve())) : Promise.resolve();
    server?.closeIdleConnections();
    if (workers) {
      // Let the active job finish; past the grace period, close anyway: the job's lock expires and
      // BullMQ's stalled-job check hands it to the next worker.
      const closed = workers.close().then(() => true);
      const inTime = await Promise.race([closed, new Promise<boolean>((r) => setTimeout(() => r(false), SHUTDOWN_GRACE_MS).unref())]);
      if (!inTime) logger.warn('active job did not finish within the grace period; it will be picked up again');
    }
    await closingServer;
    await queues.close();
    for (const c of connections) c.disconnect();
    await tokens?.close();
    await embedded?.stop();
    await stoppingHeartbeat;
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

