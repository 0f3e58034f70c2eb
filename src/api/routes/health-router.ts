import { Router } from 'express';
import type { Redis } from 'ioredis';
import type { BackupStore } from '../../storage/backup-store.js';
import { answersPing } from '../../queue/redis-connection.js';
import { VERSION } from '../../version.js';
import { withTimeout } from '../../with-timeout.js';

export type Reachability = 'up' | 'down' | 'disabled';

/** checkRedis pings Redis with a short timeout: a health check must answer even when Redis does not. */
export async function checkRedis(redis: Redis): Promise<Reachability> {
  return (await answersPing(redis, 1500)) ? 'up' : 'down';
}

/** checkStore asks the store whether it is reachable. */
export async function checkStore(store: BackupStore | undefined): Promise<Reachability> {
  if (!store) return 'disabled';
  try {
    await withTimeout(store.check(), 5000);
    return 'up';
  } catch {
    return 'down';
  }
}

/**
 * healthRouter serves `GET /api/health`, open to all: only up/down/disabled and the version, never
 * a host, key or token. 503 when Redis (which every job needs) or a configured store is down.
 */
export function healthRouter(deps: { redis: Redis; store: BackupStore | undefined }): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    const [redis, storage] = await Promise.all([checkRedis(deps.redis), checkStore(deps.store)]);
    const ok = redis === 'up' && storage !== 'down';
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', redis, storage, version: VERSION });
  });
  return router;
}
