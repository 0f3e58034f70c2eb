import type { Redis } from 'ioredis';

/**
 * SourceLock keeps one backup per source running across every worker: a Redis key per source,
 * set only if absent (SET NX PX), renewed while the backup runs, deleted by its holder only. A
 * holder that dies lets it go after LOCK_MS. The queues' global concurrency bounds how many
 * sources back up at once; this bounds each source to one.
 *
 * A Redis writer can hold the key forever (backups of that source then wait) or delete it (two
 * backups of one source then run side by side, each a complete, consistent snapshot under its
 * own id): a nuisance, never a lost or wrong backup.
 */
export interface SourceLock {
  /** tryAcquire takes the source's lock for `holder`; false when another holder has it. */
  tryAcquire(source: string, holder: string): Promise<boolean>;
  /** release gives it up if `holder` still has it, and stops renewing it. */
  release(source: string, holder: string): Promise<void>;
}

/** LOCK_MS is how long a lock outlives a holder that stopped renewing it (the worker's job lock is as long). */
export const SOURCE_LOCK_MS = 30_000;

// Compare-and-renew and compare-and-delete: a holder whose lock expired and was taken never touches the new holder's.
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** sourceLock keeps its keys under `{prefix}:source-lock:{source}`. */
export function sourceLock(redis: Redis, prefix: string, lockMs: number = SOURCE_LOCK_MS): SourceLock {
  const key = (source: string): string => `${prefix}:source-lock:${source}`;
  const renewals = new Map<string, NodeJS.Timeout>();
  return {
    async tryAcquire(source, holder) {
      const held = await redis.set(key(source), holder, 'PX', lockMs, 'NX');
      // Our own lock still there: this job's previous attempt (its worker stopped) held it.
      if (held !== 'OK' && (await redis.get(key(source))) !== holder) return false;
      if (renewals.has(`${source}\n${holder}`)) return true;
      const timer = setInterval(() => {
        redis.eval(RENEW, 1, key(source), holder, String(lockMs)).catch(() => undefined);
      }, Math.floor(lockMs / 3));
      timer.unref();
      renewals.set(`${source}\n${holder}`, timer);
      return true;
    },
    async release(source, holder) {
      const timer = renewals.get(`${source}\n${holder}`);
      clearInterval(timer);
      renewals.delete(`${source}\n${holder}`);
      await redis.eval(RELEASE, 1, key(source), holder).catch(() => undefined);
    },
  };
}
