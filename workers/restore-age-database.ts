import { createWriteStream } from 'node:fs';
import { link, lstat, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AgeKeys } from '../src/age/age-decrypt.js';
import { SnapkeepError } from '../src/errors.js';
import type { RestoreJobData, RestoreResult } from '../src/queue/job-types.js';
import { temporaryPath } from '../src/snapshot/temporary-files.js';
import { verifySqliteFile } from '../src/snapshot/verify-sqlite.js';
import type { JobContext } from './job-context.js';
import { openBackupPlaintext, type FoundBackup } from './open-backup-plaintext.js';

/**
 * restoreAgeDatabase restores a database-only age backup (`{id}.age`) as the CRBU restore does:
 * into a 0600 temporary file beside DB_PATH, kept only when age authenticated every chunk and
 * `PRAGMA integrity_check` answers ok, then linked to `{DB_PATH}.restore.{id}` (never over an
 * existing one unless force). DB_PATH itself is never opened.
 */
export async function restoreAgeDatabase(backup: FoundBackup, data: RestoreJobData, ctx: JobContext, keys: AgeKeys): Promise<RestoreResult> {
  const dbPath = ctx.config.dbPath!;
  const started = Date.now();
  const target = `${dbPath}.restore.${backup.id}`;
  const force = data.force === true;
  if (!force && (await exists(target))) throw restoreExists(target);
  const temp = temporaryPath(dirname(dbPath), 'restore');
  try {
    const plaintext = await openBackupPlaintext(ctx, backup, keys);
    await pipeline(plaintext.stream, createWriteStream(temp, { flags: 'wx', mode: 0o600, highWaterMark: 1024 * 1024 }));
    const handle = await open(temp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    ctx.reportProgress({ phase: 'verify', percent: 0, bytesDone: 0, bytesTotal: 0 });
    await verifySqliteFile(temp);
    const size = (await stat(temp)).size;
    await place(temp, target, force);
    await syncDirectory(dirname(target));
    ctx.reportProgress({ phase: 'verify', percent: 100, bytesDone: size, bytesTotal: size });
    ctx.logger.info('restore completed', { backupId: backup.id, target, size });
    return { backupId: backup.id, path: target, size, durationMs: Date.now() - started };
  } finally {
    await rm(temp, { force: true });
  }
}

/** place links temp to target, which fails if target appeared meanwhile; force replaces it. */
async function place(temp: string, target: string, force: boolean): Promise<void> {
  if (force) {
    await rename(temp, target);
    return;
  }
  try {
    await link(temp, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw restoreExists(target);
    // Filesystems without hard links: check, then rename.
    if (await exists(target)) throw restoreExists(target);
    await rename(temp, target);
  }
}

/** syncDirectory flushes a directory entry, so the new name survives a power cut. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const restoreExists = (target: string): SnapkeepError =>
  new SnapkeepError('restore_exists', `${target} already exists; move it away or restore with --force`);

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}
