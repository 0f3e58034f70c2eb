import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AgeKeys } from '../../src/age/age-decrypt.js';
import { readFacts } from '../../src/backups/backup-facts.js';
import { createOutputLimit, restoreOutputLimit } from '../../src/compression/output-limit.js';
import { restoreJournalMode } from '../../src/snapshot/journal-mode.js';
import { requireDbPath } from '../../src/config/load-config.js';
import type { RestoreJobData, RestoreResult } from '../../src/queue/job-types.js';
import { sweepStaleTemporaries, temporaryPath } from '../../src/snapshot/temporary-files.js';
import { verifySqliteFile } from '../../src/snapshot/verify-sqlite.js';
import type { JobContext } from '../runtime/job-context.js';
import { openBackupPlaintext, type FoundBackup } from './open-backup-plaintext.js';
import { assertRestoreTargetFree, explainDiskFull, placeRestore, restoreTargetPath, syncPath } from './restore-files.js';
import { masterKeysOf } from '../../src/config/master-keys.js';

/**
 * restoreAgeDatabase restores a database-only age backup (`{id}.age`) as the CRBU restore does:
 * into a 0600 temporary file beside DB_PATH, kept only when age authenticated every chunk and
 * `PRAGMA integrity_check` answers ok, then linked to `{DB_PATH}.restore.{id}` (never over an
 * existing one unless force). DB_PATH itself is never opened.
 */
export async function restoreAgeDatabase(backup: FoundBackup, data: RestoreJobData, ctx: JobContext, keys: AgeKeys): Promise<RestoreResult> {
  const dbPath = requireDbPath(ctx.config, 'to restore a database backup');
  const started = Date.now();
  const target = restoreTargetPath(dbPath, backup.id);
  const force = data.force === true;
  await assertRestoreTargetFree(target, force);
  await sweepStaleTemporaries(dirname(dbPath), ctx.logger);
  const temp = temporaryPath(dirname(dbPath), 'restore');
  const masterKeys = masterKeysOf(ctx.config);
  const facts = readFacts(backup.id, backup.metadata, masterKeys);
  // Never more than the recorded size (or 100 × the object's without a record): a `.zst.age` planted
  // by whoever holds the public key must not fill the disk beside the live database.
  const limit = await restoreOutputLimit(dirname(dbPath), backup.size, facts.size);
  try {
    const plaintext = await openBackupPlaintext(ctx, backup, keys);
    await pipeline(plaintext.stream, createOutputLimit(limit), createWriteStream(temp, { flags: 'wx', mode: 0o600, highWaterMark: 1024 * 1024 }));
    await syncPath(temp);
    ctx.reportProgress({ phase: 'verify', percent: 0, bytesDone: 0, bytesTotal: 0 });
    await verifySqliteFile(temp);
    const { journalMode } = facts;
    restoreJournalMode(temp, journalMode);
    if (journalMode === 'wal') await syncPath(temp);
    const size = (await stat(temp)).size;
    await placeRestore(temp, target, force);
    ctx.reportProgress({ phase: 'verify', percent: 100, bytesDone: size, bytesTotal: size });
    ctx.logger.info('restore completed', { backupId: backup.id, target, size });
    return { backupId: backup.id, path: target, size, durationMs: Date.now() - started, ...(journalMode ? { journalMode } : {}) };
  } catch (err) {
    throw explainDiskFull(err, dbPath);
  } finally {
    await rm(temp, { force: true });
  }
}
