import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/api/create-app.js';
import { openTokenStore } from '../../src/auth/open-token-store.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { jobStatsKey, jobStatsRecorder } from '../../src/metrics/job-stats.js';
import { createQueues, type Queues } from '../../src/queue/queues.js';
import { waitUntilReady } from '../../src/queue/redis-connection.js';
import { collectingLogger, trackConnections } from './in-process-parts.js';
import { createStore } from '../../src/storage/create-store.js';
import { startWorkers, type RunningWorkers, type StartWorkersOptions } from '../../workers/runtime/start-workers.js';
import { removeDir } from './redis-server.js';
import { createSampleDatabase } from './sample-database.js';

/** ApiInstance is one Express app on a free loopback port, with its own Redis connection and queues. */
export interface ApiInstance {
  url: string;
  queues: Queues;
  close(): Promise<void>;
}

/**
 * InProcessService is `snapkeep serve` built in this process from the same parts as run-service
 * (workers with the metrics recorder, the app), on a real Redis and a directory store, plus a way
 * to start more API-only instances as `snapkeep api` processes would be.
 */
export interface InProcessService {
  dir: string;
  config: Config;
  api: ApiInstance;
  admin: string;
  viewer: string;
  logs: string[];
  /** startApi starts another app on the same Redis, with no worker (a `snapkeep api`). */
  startApi(options?: { store?: 'same' | 'none' }): Promise<ApiInstance>;
  close(): Promise<void>;
}


async function listen(server: Promise<Server>): Promise<{ server: Server; url: string }> {
  const s = await server;
  const address = s.address();
  return { server: s, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

/** startInProcessService builds config, workers and an app over a fresh sample database, queue prefix and state dir. */
export async function startInProcessService(redisUrl: string, env: Record<string, string> = {}, workerOptions: Pick<StartWorkersOptions, 'notifyTimeoutMs' | 'scheduleGuardMs'> = {}): Promise<InProcessService> {
  const dir = mkdtempSync(join(tmpdir(), 'snapkeep-svc-'));
  const dbPath = join(dir, 'app.db');
  createSampleDatabase(dbPath, 300);
  const config = loadConfig({
    REDIS_URL: redisUrl, QUEUE_PREFIX: `t${randomBytes(4).toString('hex')}`, STATE_DIR: join(dir, 'state'),
    BACKUP_LOCAL_DIR: join(dir, 'backups'), DB_PATH: dbPath, MASTER_KEY: randomBytes(32).toString('hex'),
    BACKUP_SCHEDULE_HOURS: '0', BACKUP_JOB_ATTEMPTS: '1', ...env,
  });
  const logs: string[] = [];
  const logger = collectingLogger(logs);
  const store = createStore(config.store!);
  const { connect, all: connections } = trackConnections(redisUrl);
  const tokenRedis = connect('producer');
  await waitUntilReady(tokenRedis, 5000);
  const tokens = await openTokenStore(config, { redis: tokenRedis, logger, poll: true });
  const admin = await tokens.create('admin', 'superadmin');
  const viewer = await tokens.create('viewer', 'viewer');

  const instances: Array<{ server: Server; queues: Queues }> = [];
  const startApi = async (options: { store?: 'same' | 'none' } = {}): Promise<ApiInstance> => {
    const redis = connect('producer');
    await waitUntilReady(redis, 5000);
    const queues = createQueues(config, redis);
    const app = createApp({ queues, redis, store: options.store === 'none' ? undefined : store, tokens, logger, masterKey: config.masterKey, previousMasterKeys: config.previousMasterKeys });
    const { server, url } = await listen(new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); }));
    instances.push({ server, queues });
    return {
      url,
      queues,
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  };

  const api = await startApi();
  const producer = connections[0]!;
  const workers: RunningWorkers = await startWorkers({
    config, store, queues: api.queues, logger, connect: () => connect('worker'),
    onJobFinished: jobStatsRecorder(producer, jobStatsKey(api.queues), logger, config.masterKey),
    ...workerOptions,
  });
  return {
    dir, config, api, admin, viewer, logs, startApi,
    async close() {
      await workers.close();
      for (const { server } of instances) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await Promise.all(instances.map(({ queues }) => queues.close()));
      for (const c of connections) c.disconnect();
      await tokens.close();
      removeDir(dir);
    },
  };
}
