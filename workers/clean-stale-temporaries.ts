import { coerceError } from '../src/errors.js';
import type { Logger } from '../src/logging/create-logger.js';
import { removeStaleTemporaries } from '../src/snapshot/temporary-files.js';

/**
 * cleanStaleTemporaries removes the snapshots and restores that dead runs left in dir, logging each
 * path. Every backup and restore calls it before writing its own, so a CLI-only installation (no
 * worker whose start would clean) never keeps a killed run's plaintext copy of the database. A
 * failure to look only warns: the job goes on.
 */
export async function cleanStaleTemporaries(dir: string, logger: Logger): Promise<void> {
  try {
    for (const path of await removeStaleTemporaries(dir)) logger.info('removed a stale temporary', { path });
  } catch (error) {
    logger.warn('could not look for stale temporaries', { dir, error: coerceError(error).message });
  }
}
