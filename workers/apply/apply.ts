import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { applyArchive } from '../../src/apply/apply-archive.js';
import { applyDatabase } from '../../src/apply/apply-database.js';
import { utcStamp } from '../../src/apply/aside-names.js';
import { headerJournalMode } from '../../src/apply/database-files.js';
import { streamFeeds } from '../../src/archive/feed-stream.js';
import type { SwapOptions } from '../../src/apply/swap-session.js';
import { readFacts } from '../../src/backups/backup-facts.js';
import { findBackup } from '../../src/backups/find-backup.js';
import { requireDbPath } from '../../src/config/load-config.js';
import { SnapkeepError } from '../../src/errors.js';
import type { ApplyJobData, ApplyResult, RestoredArchive, RestoreJobData, SwapReport } from '../../src/queue/job-types.js';
import { verifySqliteFile } from '../../src/snapshot/verify-sqlite.js';
import type { JobContext } from '../runtime/job-context.js';
import type { FoundBackup } from '../restore/open-backup-plaintext.js';
import { restoreRootDir } from '../restore/partial-restores.js';
import { restoreTargetPath } from '../restore/restore-files.js';
import { restore } from '../restore/restore.js';
import { masterKeysOf } from '../../src/config/master-keys.js';

/**
 * apply is the `backup apply` job: put a backup in place of the live data. A database backup
 * uses the verified `{DB_PATH}.restore.{id}` already beside the database (checked again), or
 * restores it first; an archive is always restored afresh, so that every move comes from a
 * manifest whose origin was just checked. Then src/apply does the swap, with the stop and start
 * commands of this host: the CLI's flags, or APP_STOP_COMMAND and APP_START_COMMAND.
 */
export async function apply(data: ApplyJobData, ctx: JobContext): Promise<ApplyResult> {
  const started = Date.now();
  const dbPath = requireDbPath(ctx.config, 'to apply a backup');
  const backup = await findBackup(ctx.store, data.backupId);
  const logger = ctx.logger.child({ backupId: backup.id });
  const swap: Omit<SwapOptions, 'operation'> = {
    dbPath,
    logger,
    commands: {
      stop: ctx.appCommands?.stop ?? ctx.config.appCommands.stop,
      start: ctx.appCommands?.start ?? ctx.config.appCommands.start,
      env: ctx.config.appCommands.env,
    },
  };
  const request: RestoreJobData = { backupId: backup.id, ...(data.sealedPassphrase ? { sealedPassphrase: data.sealedPassphrase } : {}) };
  const prepared = backup.kind === 'database' ? await databaseRestore(backup, request, ctx, dbPath) : await archiveRestore(backup, request, ctx, dbPath);
  ctx.reportProgress({ phase: 'apply', percent: 0, bytesDone: 0, bytesTotal: 0 });
  logger.info('apply started', { source: prepared.source, restored: prepared.restored });
  let report: Omit<SwapReport, 'durationMs'>;
  // A source's streams with a restoreCommand are fed their restored member while the application is stopped.
  if (prepared.moves) report = await applyArchive({ ...swap, moves: prepared.moves, journalMode: prepared.journalMode, streams: await streamFeeds(prepared.source, ctx.config.streams) });
  else report = await applyDatabase({ ...swap, restoredPath: prepared.source, journalMode: prepared.journalMode });
  ctx.reportProgress({ phase: 'apply', percent: 100, bytesDone: 0, bytesTotal: 0 });
  const result: ApplyResult = { backupId: backup.id, kind: backup.kind, source: prepared.source, restored: prepared.restored, ...report, durationMs: Date.now() - started };
  logger.info('apply completed', { moves: result.moves.length, durationMs: result.durationMs });
  return result;
}

/** PreparedRestore is a verified restore ready to apply, and the journal mode the backup recorded. */
interface PreparedRestore {
  source: string;
  restored: boolean;
  journalMode: string | undefined;
  moves?: RestoredArchive['moves'];
}

/** databaseRestore is `{DB_PATH}.restore.{id}`: the one already there, checked again, or a new restore. */
async function databaseRestore(backup: FoundBackup, request: RestoreJobData, ctx: JobContext, dbPath: string): Promise<PreparedRestore> {
  const source = restoreTargetPath(dbPath, backup.id);
  if (!(await exists(source))) {
    const result = await restore(request, ctx);
    return { source, restored: true, journalMode: result.journalMode };
  }
  // It waited beside the live database since its restore: check it again before it replaces that.
  await verifySqliteFile(source);
  const keys = masterKeysOf(ctx.config);
  return { source, restored: false, journalMode: readFacts(backup.id, backup.metadata, keys).journalMode };
}

/**
 * archiveRestore restores the archive into a new directory under STATE_DIR/restore, never one
 * restored before: the manifest is not kept on disk, and a directory that sat there since cannot
 * prove its moves are the authenticated manifest's.
 */
async function archiveRestore(backup: FoundBackup, request: RestoreJobData, ctx: JobContext, dbPath: string): Promise<PreparedRestore> {
  const plain = join(restoreRootDir(ctx.config.stateDir), backup.id);
  const target = (await exists(plain)) ? `${plain}.apply-${utcStamp(new Date())}` : plain;
  const result = await restore({ ...request, target }, ctx);
  const moves = result.archive?.moves;
  const database = moves?.find((m) => m.to === dbPath);
  if (!moves || !database) throw new SnapkeepError('internal', `the restore of archive ${backup.id} names no move to ${dbPath}`);
  // The restore gave the database the journal mode the manifest recorded; WAL is the only one a
  // file holds, so any other (or none recorded) leaves the live file's.
  return { source: result.path, restored: true, journalMode: (await headerJournalMode(database.from)) === 'wal' ? 'wal' : undefined, moves };
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}
