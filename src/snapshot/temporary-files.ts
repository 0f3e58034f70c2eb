import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { OWNER_PATTERN, removeStale, runOwner, STALE_AFTER_MS, sweepStale, type StaleLogger } from '../temporaries/stale-temporaries.js';

/** TemporaryKind is what a temporary file under STATE_DIR holds: a snapshot or a restore in progress. */
export type TemporaryKind = 'snapshot' | 'restore';

// Exactly temporaryPath's names (and SQLite's files beside them): restores are written in the
// application's own directory, where a file of the user's that only looks like ours must survive.
const TEMPORARY_NAME = new RegExp(String.raw`^(?:snapshot|restore)-${OWNER_PATTERN}-[0-9a-f]{12}(?:\.sqlite|\.archive)?\.tmp(?:-wal|-shm|-journal)?$`);

/**
 * temporaryPath is a new unique file name under dir, `{kind}-{pid}-{run}-{random}{extension}`,
 * whose owner removeStaleTemporaries can recognise. The file is not created.
 */
export function temporaryPath(dir: string, kind: TemporaryKind, extension = '.tmp'): string {
  return join(dir, `${kind}-${runOwner()}-${randomBytes(6).toString('hex')}${extension}`);
}

/**
 * removeStaleTemporaries deletes the snapshot and restore temporaries named by temporaryPath (and
 * SQLite's -wal, -shm, -journal beside them) left in dir by runs that died, and returns their paths
 * (stale-temporaries.ts says which runs count as dead).
 */
export async function removeStaleTemporaries(dir: string, olderThanMs: number = STALE_AFTER_MS): Promise<string[]> {
  return removeStale(dir, { name: TEMPORARY_NAME, type: 'file', olderThanMs });
}

/**
 * sweepStaleTemporaries is removeStaleTemporaries that logs and never throws. Every backup and
 * restore calls it before writing its own, as a worker does at start, so a CLI-only installation
 * never keeps a killed run's plaintext copy of the database.
 */
export function sweepStaleTemporaries(dir: string, logger: StaleLogger): Promise<string[]> {
  return sweepStale(dir, { name: TEMPORARY_NAME, type: 'file' }, logger);
}
