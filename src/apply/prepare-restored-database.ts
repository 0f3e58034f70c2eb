import { chmod, chown, lstat } from 'node:fs/promises';
import { formatMode } from '../archive/archive-paths.js';
import { SnapkeepError, coerceError } from '../errors.js';
import type { SwapReport } from '../queue/job-types.js';
import { restoreJournalMode } from '../snapshot/journal-mode.js';
import { syncPath } from '../sync-path.js';
import { formatOwnership, headerJournalMode, liveOwnership } from './database-files.js';

/**
 * prepareRestoredDatabase makes a verified restore ready to take the live database's place: the
 * journal mode the backup recorded (older backups: the live file's), then the live file's owner,
 * group and mode (no live file: its directory's owner and 0600), flushed. It touches only the
 * restored file, so it runs before the application is stopped: a failure here (chown as a user
 * who may not) costs no downtime and changes nothing live.
 */
export async function prepareRestoredDatabase(restored: string, dbPath: string, recordedJournalMode: string | undefined): Promise<SwapReport['database']> {
  const info = await lstat(restored).catch(() => undefined);
  if (!info?.isFile()) throw new SnapkeepError('apply_refused', `${restored} is not a restored database file`);
  const owner = await liveOwnership(dbPath);
  const journalMode = recordedJournalMode ?? (owner.live ? await headerJournalMode(dbPath) : 'delete');
  // Before chown: SQLite writes the header as this process, on a file still its own.
  restoreJournalMode(restored, journalMode);
  try {
    await chown(restored, owner.uid, owner.gid);
    await chmod(restored, owner.mode);
  } catch (error) {
    throw new SnapkeepError('apply_refused', `cannot give ${restored} the live database's ${formatOwnership(owner)} (${coerceError(error).message}): `
      + 'run apply as root or as the database\'s owner; nothing was changed', { cause: error });
  }
  await syncPath(restored);
  return { path: dbPath, uid: owner.uid, gid: owner.gid, mode: formatMode(owner.mode), journalMode };
}
