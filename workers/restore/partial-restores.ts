import { randomBytes } from 'node:crypto';
import { chmod, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../src/logging/create-logger.js';
import { OWNER_PATTERN, runOwner, sweepStale } from '../../src/temporaries/stale-temporaries.js';

/**
 * restoreRootDir holds the archives restored by default, `{STATE_DIR}/restore/{id}` (here, not in
 * restore-archive.ts, which loads only when an archive is restored: a worker's start needs this).
 */
export const restoreRootDir = (stateDir: string): string => join(stateDir, 'restore');

// `.{target's name}.partial-{pid}-{run}-{random}`: nothing else in a restore's parent is ours.
const PARTIAL_NAME = new RegExp(String.raw`^\..+\.partial-${OWNER_PATTERN}-[0-9a-f]{8}$`);

/**
 * partialRestorePath is a new hidden sibling of target for an archive to be extracted into before
 * it is renamed to target, named with its owner so that removeStalePartialRestores can tell whether
 * the restore that made it died. The directory is not created.
 */
export function partialRestorePath(target: string): string {
  return join(dirname(target), `.${basename(target)}.partial-${runOwner()}-${randomBytes(4).toString('hex')}`);
}

/**
 * removeStalePartialRestores deletes the partial restore directories in dir left by restores that
 * died (SIGKILL, power loss) and logs each (info), never this run's nor a live process's younger
 * than a day. A failure is logged (warn), not thrown: a leftover must not stop a worker's start or
 * the next restore.
 */
export function removeStalePartialRestores(dir: string, logger: Logger): Promise<string[]> {
  return sweepStale(dir, { name: PARTIAL_NAME, type: 'directory', remove: removeTree }, logger);
}

/** removeTree removes a partial restore even where restored modes made directories read-only. */
export async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch {
    await makeWritable(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await makeWritable(join(dir, entry.name));
}
