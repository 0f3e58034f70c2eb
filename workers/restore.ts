import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { findBackup } from '../src/backups/find-backup.js';
import { createDecryptStream } from '../src/crypto/crbu-decrypt-stream.js';
import { keyFingerprint } from '../src/crypto/derive-backup-key.js';
import { SnapkeepError, coerceError } from '../src/errors.js';
import type { RestoreJobData, RestoreResult } from '../src/queue/job-types.js';
import { temporaryPath } from '../src/snapshot/temporary-files.js';
import { verifySqliteFile } from '../src/snapshot/verify-sqlite.js';
import type { JobContext } from './job-context.js';

/** restoreTargetPath is where a verified restore appears: `{DB_PATH}.restore.{id}`, beside the live database. */
export const restoreTargetPath = (dbPath: string, backupId: string): string => `${dbPath}.restore.${backupId}`;

/**
 * restore downloads a backup, decrypts it into a 0600 temporary file beside DB_PATH and keeps it
 * only when the GCM tag, the SQLite header and `PRAGMA integrity_check` all pass; then it renames
 * it to `{DB_PATH}.restore.{id}`. It never opens DB_PATH. Every failure removes the temporary file.
 */
export async function restore(data: RestoreJobData, ctx: JobContext): Promise<RestoreResult> {
  const { config, store } = ctx;
  if (!config.dbPath) throw new SnapkeepError('invalid_config', 'DB_PATH is not set');
  const started = Date.now();
  const logger = ctx.logger.child({ backupId: data.backupId });
  const backup = await findBackup(store, data.backupId);
  if (backup.encryption !== 'master-key' || backup.kind !== 'database') {
    throw new SnapkeepError('archive_invalid', `backup ${backup.id} is a ${backup.kind} encrypted with ${backup.encryption}; this restore handles master-key database backups`);
  }
  const target = restoreTargetPath(config.dbPath, backup.id);
  if (!data.force && (await exists(target))) {
    throw new SnapkeepError('restore_exists', `${target} already exists; move it away or restore with --force`);
  }
  const keys = orderKeys([config.masterKey, ...config.previousMasterKeys].filter((k): k is Buffer => k !== undefined), backup.metadata['snapkeep-key']);
  if (keys.length === 0) throw new SnapkeepError('invalid_config', 'MASTER_KEY is not set');

  // Beside DB_PATH, so the final rename is atomic (same filesystem); named so a later start cleans it if we die.
  const temp = temporaryPath(dirname(config.dbPath), 'restore');
  logger.info('restore started', { target });
  try {
    let keyIndex = -1;
    for (const [position, { key, index }] of keys.entries()) {
      try {
        await downloadAndDecrypt(ctx, backup.name, backup.size, key, temp);
        keyIndex = index;
        break;
      } catch (err) {
        const last = position === keys.length - 1;
        // Only a failed tag means "maybe another key": every other error is the same for all keys.
        if (last || !(err instanceof SnapkeepError) || err.code !== 'decrypt_failed') throw err;
        logger.info('backup did not open with this key; trying the next', { keyPosition: position });
      }
    }
    ctx.reportProgress({ phase: 'verify', percent: 0, bytesDone: 0, bytesTotal: 0 });
    await verifySqliteFile(temp);
    const size = (await stat(temp)).size;
    await rename(temp, target);
    await fsyncDirectory(dirname(target));
    ctx.reportProgress({ phase: 'verify', percent: 100, bytesDone: size, bytesTotal: size });
    const result: RestoreResult = { backupId: backup.id, path: target, size, durationMs: Date.now() - started, keyIndex };
    logger.info('restore completed', { target, size, durationMs: result.durationMs, keyIndex });
    return result;
  } catch (err) {
    throw translateDiskError(err, config.dbPath);
  } finally {
    await rm(temp, { force: true });
  }
}

async function downloadAndDecrypt(ctx: JobContext, name: string, bytesTotal: number, key: Buffer, temp: string): Promise<void> {
  const object = await ctx.store.get(name, ctx.signal ? { signal: ctx.signal } : {});
  let bytesDone = 0;
  let lastReport = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      bytesDone += chunk.length;
      const now = Date.now();
      if (now - lastReport > 200) {
        lastReport = now;
        ctx.reportProgress({ phase: 'download', percent: Math.min(99, Math.floor((bytesDone / bytesTotal) * 100)), bytesDone, bytesTotal });
      }
      callback(null, chunk);
    },
  });
  await pipeline(
    object.body,
    counter,
    createDecryptStream(key, { acceptVersions: [1] }),
    // 'w' truncates: a second key's attempt starts from an empty file. Mode 0600 from creation on.
    createWriteStream(temp, { flags: 'w', mode: 0o600, highWaterMark: 1024 * 1024 }),
    ctx.signal ? { signal: ctx.signal } : {},
  );
  if (bytesDone < bytesTotal) throw new SnapkeepError('truncated', 'backup is truncated', { retryable: true });
  const handle = await open(temp, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  ctx.reportProgress({ phase: 'download', percent: 100, bytesDone, bytesTotal });
}

/** orderKeys puts the key whose fingerprint the backup recorded first, then the rest in configured order. */
function orderKeys(keys: Buffer[], fingerprint: string | undefined): Array<{ key: Buffer; index: number }> {
  const indexed = keys.map((key, index) => ({ key, index }));
  if (!fingerprint) return indexed;
  const match = indexed.filter(({ key }) => keyFingerprint(key) === fingerprint);
  return [...match, ...indexed.filter((k) => !match.includes(k))];
}

function translateDiskError(thrown: unknown, dbPath: string): Error {
  const err = coerceError(thrown);
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new SnapkeepError('no_space', `no space left on the disk of ${dirname(dbPath)} while writing the restore; free space and try again`, { cause: err });
  }
  return err;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
