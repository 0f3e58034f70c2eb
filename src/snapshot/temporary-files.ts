import { randomBytes } from 'node:crypto';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** TemporaryKind is what a temporary file under STATE_DIR holds: a snapshot or a restore in progress. */
export type TemporaryKind = 'snapshot' | 'restore';

// Tells this process's own temporaries from a previous run's, even when a container restart
// hands the new process the same pid (pid 1 in most images).
const RUN_TOKEN = randomBytes(4).toString('hex');
const TEMPORARY_NAME = /^(snapshot|restore)-.*\.tmp(-wal|-shm|-journal)?$/;
const OWNER = /^(?:snapshot|restore)-(\d+)-([0-9a-f]{8})-/;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * temporaryPath is a new unique file name under dir, `{kind}-{pid}-{run}-{random}{extension}`,
 * whose owner removeStaleTemporaries can recognise. The file is not created.
 */
export function temporaryPath(dir: string, kind: TemporaryKind, extension = '.tmp'): string {
  return join(dir, `${kind}-${process.pid}-${RUN_TOKEN}-${randomBytes(6).toString('hex')}${extension}`);
}

/**
 * removeStaleTemporaries deletes `snapshot-*.tmp` and `restore-*.tmp` files (and SQLite's -wal,
 * -shm, -journal beside them) left in dir by runs that died, and returns their paths. A file of a
 * live process is kept unless it is older than olderThanMs (default a day): another container
 * sharing the directory has its own pids, so a live-looking pid proves nothing there.
 */
export async function removeStaleTemporaries(dir: string, olderThanMs: number = DAY_MS): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    if (!TEMPORARY_NAME.test(name)) continue;
    const path = join(dir, name);
    const owner = OWNER.exec(name);
    if (owner && owner[2] === RUN_TOKEN) continue;
    const info = await lstat(path).catch(() => null);
    if (!info || !info.isFile()) continue;
    const deadRun = owner !== null && !isOtherLiveProcess(Number(owner[1]));
    if (!deadRun && now - info.mtimeMs < olderThanMs) continue;
    await rm(path, { force: true });
    removed.push(path);
  }
  return removed;
}

function isOtherLiveProcess(pid: number): boolean {
  // Our own pid under another run token is an earlier incarnation (a restarted container).
  if (pid === process.pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
