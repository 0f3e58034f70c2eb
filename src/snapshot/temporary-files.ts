import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { OWNER_PATTERN, removeStale, runOwner, STALE_AFTER_MS } from '../temporaries/stale-temporaries.js';

/** TemporaryKind is what a temporary file under STATE_DIR holds: a snapshot or a restore in progress. */
export type TemporaryKind = 'snapshot' | 'restore';

// Names without an owner (an older snapkeep's) are still ours, removed once a day old.
const TEMPORARY_NAME = new RegExp(String.raw`^(?:snapshot|restore)-(?:${OWNER_PATTERN}-)?.*\.tmp(?:-wal|-shm|-journal)?$`);

/**
 * temporaryPath is a new unique file name under dir, `{kind}-{pid}-{run}-{random}{extension}`,
 * whose owner removeStaleTemporaries can recognise. The file is not created.
 */
export function temporaryPath(dir: string, kind: TemporaryKind, extension = '.tmp'): string {
  return join(dir, `${kind}-${runOwner()}-${randomBytes(6).toString('hex')}${extension}`);
}

/**
 * removeStaleTemporaries deletes `snapshot-*.tmp` and `restore-*.tmp` files (and SQLite's -wal,
 * -shm, -journal beside them) left in dir by runs that died, and returns their paths. A file of a
 * live process is kept unless it is older than olderThanMs (default a day): another container
 * sharing the directory has its own pids, so a live-looking pid proves nothing there.
 */
export async function removeStaleTemporaries(dir: string, olderThanMs: number = STALE_AFTER_MS): Promise<string[]> {
  return removeStale(dir, { name: TEMPORARY_NAME, type: 'file', olderThanMs });
}
