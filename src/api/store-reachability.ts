import type { BackupStore } from '../storage/backup-store.js';
import { withTimeout } from '../with-timeout.js';

/** What `GET /api/health` says of Redis and of the store. */
export type Reachability = 'up' | 'down' | 'disabled';

export interface StoreReachabilityOptions {
  /** A result younger than this is answered without asking the store again. */
  freshMs?: number;
  /** While a newer check runs, a result younger than this is answered at once. */
  staleMs?: number;
  /** A check that takes longer than this counts as `down`. */
  timeoutMs?: number;
  now?: () => number;
}

/**
 * storeReachability answers "is the store reachable?" for `GET /api/health` without turning every
 * health request into a request to the store: one check (HeadBucket, or a stat of the directory)
 * is in flight at a time, shared by every health request that arrives meanwhile, and its result is
 * reused for freshMs. While a newer check runs, the last result (if recent) is answered at once: an
 * S3 server busy with a large upload (s3rver answers nothing for seconds while it assembles an
 * object on CompleteMultipartUpload) would otherwise hold every health request until the timeout.
 * A failure is never masked: once a check fails (or times out), `down` is answered until one
 * succeeds. The cost: a store that goes away is reported down up to freshMs + timeoutMs after,
 * against timeoutMs before, and one that comes back up to freshMs + its answer's time after.
 */
export function storeReachability(store: BackupStore | undefined, options: StoreReachabilityOptions = {}): () => Promise<Reachability> {
  const { freshMs = 1000, staleMs = 15_000, timeoutMs = 5000, now = Date.now } = options;
  let last: { result: 'up' | 'down'; at: number } | undefined;
  let inFlight: Promise<'up' | 'down'> | undefined;
  const checkNow = (target: BackupStore): Promise<'up' | 'down'> => {
    inFlight ??= withTimeout(target.check(), timeoutMs)
      .then(() => 'up' as const, () => 'down' as const)
      .then((result) => {
        last = { result, at: now() };
        inFlight = undefined;
        return result;
      });
    return inFlight;
  };
  return async () => {
    if (!store) return 'disabled';
    const age = last ? now() - last.at : Infinity;
    if (last && age < freshMs) return last.result;
    const pending = checkNow(store);
    if (last && age < staleMs) return last.result;
    return pending;
  };
}
