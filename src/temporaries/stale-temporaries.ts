import { createHash, randomBytes } from 'node:crypto';
import { lstat, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { coerceError } from '../errors.js';

// A run token is 8 hex digits. The first 4 name the host (or container) that made it, because a
// pid means something only there: another host's temporary in a shared directory is removed only
// once old, never because its pid is not running here. The other 4 tell this process's own
// temporaries from a previous run's, even when a container restart hands the new process the same
// pid (pid 1 in most images).
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 4);
const RUN_TOKEN = HOST_TAG + randomBytes(2).toString('hex');

/** hostTag is the first four hex digits of this host's run tokens. */
export function hostTag(): string {
  return HOST_TAG;
}

/** STALE_AFTER_MS is how old a temporary of a process that looks alive must be before it is removed. */
export const STALE_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * OWNER_PATTERN is the regular expression source of runOwner's `{pid}-{run}`, with named groups
 * `pid` and `run`, for the name patterns given to removeStale.
 */
export const OWNER_PATTERN = String.raw`(?<pid>\d+)-(?<run>[0-9a-f]{8})`;

/**
 * runOwner is `{pid}-{run}`, the part of every temporary name that says which run of which
 * process made it: this process's pid and a token drawn at its start.
 */
export function runOwner(): string {
  return `${process.pid}-${RUN_TOKEN}`;
}

/** RemoveStaleOptions say which entries of a directory are temporaries and how to remove them. */
export interface RemoveStaleOptions {
  /**
   * Matches exactly the names of these temporaries; its `pid` and `run` groups (OWNER_PATTERN) name
   * the owner. A name without them is removed only once older than olderThanMs.
   */
  name: RegExp;
  /** What such a temporary is: anything else of that name (a symlink, say) is left alone. */
  type: 'file' | 'directory';
  /** Default STALE_AFTER_MS. */
  olderThanMs?: number;
  /** Default rm (recursive for directories). */
  remove?: (path: string) => Promise<void>;
}

/**
 * removeStale deletes the temporaries in dir left by runs that died (SIGKILL, power loss) and
 * returns their paths; a missing dir has none. This run's own are kept, and so are those of a live
 * process on this host (it may be mid-write) and those of other hosts (whose pids say nothing here)
 * unless older than olderThanMs.
 */
export async function removeStale(dir: string, options: RemoveStaleOptions): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const olderThanMs = options.olderThanMs ?? STALE_AFTER_MS;
  const remove = options.remove ?? ((path: string) => rm(path, { recursive: options.type === 'directory', force: true }));
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    const match = options.name.exec(name);
    if (!match) continue;
    const { pid, run } = match.groups ?? {};
    if (run === RUN_TOKEN) continue;
    const path = join(dir, name);
    const info = await lstat(path).catch(() => null);
    if (!info || !(options.type === 'file' ? info.isFile() : info.isDirectory())) continue;
    const deadRun = pid !== undefined && run !== undefined && run.startsWith(HOST_TAG) && !isOtherLiveProcess(Number(pid));
    if (!deadRun && now - info.mtimeMs < olderThanMs) continue;
    await remove(path);
    removed.push(path);
  }
  return removed;
}

function isOtherLiveProcess(pid: number): boolean {
  // Our own pid under another run token is an earlier incarnation (a restarted container).
  if (pid === process.pid || pid <= 0 || !Number.isSafeInteger(pid)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** StaleLogger is told of each removal (info, its path) and of a failure to look (warn). */
export interface StaleLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

/**
 * sweepStale is removeStale for callers that must go on whatever happens (a worker's start, a
 * backup, a restore, a put): each removal is logged, a failure is logged and not thrown, and the
 * paths removed are returned (none after a failure).
 */
export async function sweepStale(dir: string, options: RemoveStaleOptions, logger: StaleLogger | undefined): Promise<string[]> {
  try {
    const removed = await removeStale(dir, options);
    for (const path of removed) logger?.info('removed a stale temporary', { path });
    return removed;
  } catch (error) {
    logger?.warn('could not remove stale temporaries', { dir, error: coerceError(error).message });
    return [];
  }
}
