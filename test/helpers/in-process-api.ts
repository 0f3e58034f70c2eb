import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { answerClientErrors } from '../../src/api/answer-client-errors.js';
import { createApp } from '../../src/api/create-app.js';
import { openTokenStore } from '../../src/auth/open-token-store.js';
import { collectingLogger } from './in-process-parts.js';
import { createQueues, type Queues } from '../../src/queue/queues.js';
import { createRedisConnection, waitUntilReady } from '../../src/queue/redis-connection.js';
import { LocalBackupStore } from '../../src/storage/local-store.js';
import { loadConfig } from '../../src/config/load-config.js';
import { removeDir } from './redis-server.js';

/** InProcessApi is the Express app on a free loopback port, with a real Redis and a directory store. */
export interface InProcessApi {
  url: string;
  admin: string;
  viewer: string;
  queues: Queues;
  /** Every log line the app wrote. */
  logs: string[];
  close(): Promise<void>;
}

/** startInProcessApi builds the API as `snapkeep api` does, without a worker, for request-level tests. */
export async function startInProcessApi(redisUrl: string, options: { authRateLimit?: { windowMs?: number; limit?: number }; trustProxy?: string } = {}): Promise<InProcessApi> {
  const dir = mkdtempSync(join(tmpdir(), 'snapkeep-api-'));
  const config = loadConfig({
    REDIS_URL: redisUrl, QUEUE_PREFIX: `t${Math.random().toString(16).slice(2, 10)}`, STATE_DIR: join(dir, 'state'),
    BACKUP_LOCAL_DIR: join(dir, 'backups'), DB_PATH: join(dir, 'app.db'), MASTER_KEY: 'ab'.repeat(32),
    ...(options.trustProxy !== undefined ? { TRUST_PROXY: options.trustProxy } : {}),
  });
  const logs: string[] = [];
  const logger = collectingLogger(logs);
  const redis: Redis = createRedisConnection({ url: redisUrl }, 'producer');
  await waitUntilReady(redis, 5000);
  const queues = createQueues(config, redis);
  const tokens = await openTokenStore(config, { redis, logger, poll: true });
  const admin = await tokens.create('admin', 'superadmin');
  const viewer = await tokens.create('viewer', 'viewer');
  const store = new LocalBackupStore({ type: 'local', dir: join(dir, 'backups') });
  const app = createApp({
    queues, redis, store, tokens, logger,
    ...(options.authRateLimit ? { authRateLimit: options.authRateLimit } : {}),
    ...(config.trustProxy !== undefined ? { trustProxy: config.trustProxy } : {}),
  });
  const server: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  answerClientErrors(server);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    admin,
    viewer,
    queues,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queues.close();
      redis.disconnect();
      await tokens.close();
      removeDir(dir);
    },
  };
}
