import { randomBytes } from 'node:crypto';
import { OWNER_PATTERN, runOwner, sweepStale, type StaleLogger } from '../temporaries/stale-temporaries.js';

// `.{name}.{pid}-{run}-{random}.partial`, where name is an object's or its sidecar's (`.{object}.meta.json`).
// Nothing else is ours: a user's own `.notes.partial`, or one without an owner, is never touched.
const TEMPORARY_NAME = new RegExp(String.raw`^\..+\.${OWNER_PATTERN}-[0-9a-f]{12}\.partial$`);

/**
 * localTemporaryPath is a new unique name beside hiddenPath, a dotfile path in the store's directory
 * (`.{object}` or a sidecar): `{hiddenPath}.{pid}-{run}-{random}.partial`, on the same file system
 * for the rename, skipped by list, and with an owner removeStaleLocalTemporaries can recognise.
 * The file is not created.
 */
export function localTemporaryPath(hiddenPath: string): string {
  return `${hiddenPath}.${runOwner()}-${randomBytes(6).toString('hex')}.partial`;
}

/**
 * removeStaleLocalTemporaries deletes the `.partial` files a directory store's writers left in dir
 * when they died mid-write, logs them and returns their paths: never this run's, and never a live
 * process's younger than a day (it may be mid-upload). A failure is logged, not thrown.
 */
export function removeStaleLocalTemporaries(dir: string, logger: StaleLogger | undefined): Promise<string[]> {
  return sweepStale(dir, { name: TEMPORARY_NAME, type: 'file' }, logger);
}
