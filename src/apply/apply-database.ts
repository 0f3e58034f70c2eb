import type { SwapReport } from '../queue/job-types.js';
import { asidePath, chooseStamp } from './aside-names.js';
import { databaseFiles, moveDatabase } from './database-files.js';
import { prepareRestoredDatabase } from './prepare-restored-database.js';
import { runSwap, type SwapOptions } from './swap-session.js';

/** ApplyDatabaseOptions: the swap's options, the verified restore to put in place, and the journal mode the backup recorded. */
export interface ApplyDatabaseOptions extends Omit<SwapOptions, 'operation'> {
  restoredPath: string;
  /** undefined for backups that recorded none: the live file's mode is kept. */
  journalMode: string | undefined;
  now?: Date;
}

/**
 * applyDatabase puts a verified restore in place of DB_PATH: the restored file is given the live
 * file's owner, group and mode and the recorded journal mode; then, once no process has the
 * database open, the live file and its -wal/-shm/-journal go aside as `{DB_PATH}.pre-apply.{time}`
 * (never deleted), and the restored file is renamed into place. Every failure puts it all back.
 */
export async function applyDatabase(options: ApplyDatabaseOptions): Promise<Omit<SwapReport, 'durationMs'>> {
  const { dbPath, restoredPath } = options;
  const database = await prepareRestoredDatabase(restoredPath, dbPath, options.journalMode);
  const swapped = await runSwap({ ...options, operation: 'apply' }, async (log) => {
    const stamp = await chooseStamp(options.now ?? new Date(), (s) => databaseFiles(asidePath(dbPath, 'pre-apply', s)));
    await moveDatabase(log, dbPath, asidePath(dbPath, 'pre-apply', stamp), 'aside');
    await moveDatabase(log, restoredPath, dbPath, 'into place');
  });
  return { ...swapped, database };
}
