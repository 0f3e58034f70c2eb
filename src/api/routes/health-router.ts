import { Router } from 'express';
import type { Redis } from 'ioredis';
import type { BackupStore } from '../../storage/backup-store.js';
import { answersPing } from '../../queue/redis-connection.js';
import type { VerificationRecords } from '../../verification/verification-records.js';
import { VERSION } from '../../version.js';
import { withTimeout } from '../../with-timeout.js';
import { storeReachability, type Reachability } from '../store-reachability.js';

/** checkRedis pings Redis with a short timeout: a health check must answer even when Redis does not. */
export async function checkRedis(redis: Redis): Promise<Reachability> {
  return (await answersPing(redis, 1500)) ? 'up' : 'down';
}

/**
 * healthRouter serves `GET /api/health`, open to all: only up/down/disabled and the version, never
 * a host, key or token. 503 when Redis (which every job needs) or a configured store is down. The
 * store is asked at most once a second, one check at a time (store-reachability.ts).
 */
export function healthRouter(deps: { redis: Redis; store: BackupStore | undefined; verifications?: VerificationRecords }): Router {
  const router = Router();
  const checkStore = storeReachability(deps.store);
  router.get('/', async (_req, res) => {
    const [redis, storage, lastGoodDrillAt] = await Promise.all([checkRedis(deps.redis), checkStore(), lastGoodDrill(deps.verifications)]);
    const ok = redis === 'up' && storage !== 'down';
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', redis, storage, lastGoodDrillAt, version: VERSION });
  });
  return router;
}

/**
 * lastGoodDrill is when a restore drill last verified a backup (issue 16), as signed in Redis; null
 * when none has, or it cannot be read. A time, not a backup id: the answer is public.
 */
async function lastGoodDrill(verifications: VerificationRecords | undefined): Promise<string | null> {
  if (!verifications) return null;
  try {
    return (await withTimeout(verifications.read(), 1500)).lastGood?.verifiedAt ?? null;
  } catch {
    return null;
  }
}
