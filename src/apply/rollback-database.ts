import { lstat } from 'node:fs/promises';
import { formatMode } from '../archive/archive-paths.js';
import { SnapkeepError } from '../errors.js';
import type { SwapReport } from '../queue/job-types.js';
import { asidePath, chooseStamp, newestAside } from './aside-names.js';
import { databaseFiles, headerJournalMode, moveDatabase } from './database-files.js';
import { runSwap, type SwapOptions } from './swap-session.js';

/** RollbackResult is what a rollback did: which pre-apply copy it put back, and the swap. */
export interface RollbackResult extends SwapReport {
  /** The `{DB_PATH}.pre-apply.{time}` copy now in place. */
  restoredFrom: string;
}

/**
 * rollbackDatabase puts back the newest `{DB_PATH}.pre-apply.{time}` copy (with its sidecars)
 * with the same checks and commands as an apply, keeping the file it replaces aside in turn as
 * `{DB_PATH}.pre-rollback.{time}`. The copy keeps its own owner, mode and journal mode: it was the
 * live file. Run again, it goes one apply further back.
 */
export async function rollbackDatabase(options: Omit<SwapOptions, 'operation'> & { now?: Date }): Promise<RollbackResult> {
  const started = Date.now();
  const { dbPath } = options;
  const newest = await newestAside(dbPath, 'pre-apply');
  if (!newest) throw new SnapkeepError('nothing_to_roll_back', `no ${dbPath}.pre-apply.* copy beside the database: nothing to roll back`);
  if (!(await lstat(newest.path)).isFile()) throw new SnapkeepError('apply_refused', `${newest.path} is not a database file`);
  const swapped = await runSwap({ ...options, operation: 'rollback' }, async (log) => {
    const stamp = await chooseStamp(options.now ?? new Date(), (s) => databaseFiles(asidePath(dbPath, 'pre-rollback', s)));
    await moveDatabase(log, dbPath, asidePath(dbPath, 'pre-rollback', stamp), 'aside');
    await moveDatabase(log, newest.path, dbPath, 'into place');
  });
  const info = await lstat(dbPath);
  return {
    ...swapped,
    restoredFrom: newest.path,
    database: { path: dbPath, uid: info.uid, gid: info.gid, mode: formatMode(info.mode), journalMode: await headerJournalMode(dbPath) },
    durationMs: Date.now() - started,
  };
}
