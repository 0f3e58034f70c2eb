import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { factsMetadata } from '../../src/backups/backup-facts.js';
import { backupObjectName, newBackupId } from '../../src/backups/backup-id.js';
import { pipeline } from 'node:stream';
import { compressedFile } from '../../src/compression/compressed-plaintext.js';
import { worthCompressing } from '../../src/compression/compressibility.js';
import { createEncryptedFileStream } from '../../src/crypto/crbu-encrypt-file.js';
import { createEncryptStream } from '../../src/crypto/crbu-encrypt-stream.js';
import { CRBU_HEADER_LENGTH, CRBU_TAG_LENGTH } from '../../src/crypto/crbu-format.js';
import { keyFingerprint } from '../../src/crypto/derive-backup-key.js';
import { SnapkeepError } from '../../src/errors.js';
import type { BackupJobData, BackupResult } from '../../src/queue/job-types.js';
import { snapshotDatabase } from '../../src/snapshot/snapshot-database.js';
import { sweepStaleTemporaries } from '../../src/snapshot/temporary-files.js';
import { isArchiveOrAgeBackup } from './backup-kind.js';
import type { JobContext } from '../runtime/job-context.js';

/** snapshotTempDir is where snapshots wait for their upload: under STATE_DIR, never beside the live database. */
export const snapshotTempDir = (stateDir: string): string => join(stateDir, 'tmp');

/**
 * backup takes a consistent snapshot of DB_PATH, encrypts it as CRBU v1 and uploads it, streaming
 * from the snapshot file to the store so memory stays flat. The snapshot file is removed whatever
 * happens; a failed upload leaves no object (the store's promise), so a retry starts clean.
 */
export async function backup(data: BackupJobData, ctx: JobContext): Promise<BackupResult> {
  const { config, store } = ctx;
  // Archives (BACKUP_INCLUDE_PATHS) and age backups (passphrase, BACKUP_AGE_RECIPIENTS): backup-archive.ts.
  // Loaded on demand: tar and age-encryption cost a database backup about 15 MB and 0.1 s to load.
  if (isArchiveOrAgeBackup(config, data)) return (await import('./backup-archive.js')).backupArchiveOrAge(data, ctx);
  if (!config.dbPath) throw new SnapkeepError('invalid_config', 'DB_PATH is not set');
  if (!config.masterKey) throw new SnapkeepError('invalid_config', 'MASTER_KEY is not set');
  const started = Date.now();
  const createdAt = new Date();
  const backupId = newBackupId(createdAt);
  const logger = ctx.logger.child({ backupId });
  logger.info('backup started', { trigger: data.trigger });

  ctx.reportProgress({ phase: 'snapshot', percent: 0, bytesDone: 0, bytesTotal: 0 });
  await sweepStaleTemporaries(snapshotTempDir(config.stateDir), logger);
  const snapshot = await snapshotDatabase(config.dbPath, snapshotTempDir(config.stateDir));
  logger.info('snapshot taken', { databaseSize: snapshot.size, durationMs: Date.now() - started });
  try {
    // A stop requested during the snapshot (which cannot be interrupted) ends here, before the upload.
    ctx.signal?.throwIfAborted();
    // BACKUP_COMPRESSION=zstd on a database that does not compress (blobs already compressed or
    // encrypted) would spend CPU for nothing: such a snapshot is stored uncompressed (CRBU v1).
    const judged = config.compression.type === 'zstd' ? await worthCompressing(snapshot.path, snapshot.size) : undefined;
    if (judged && !judged.worth) logger.info('compression skipped: the snapshot does not compress', { sampleRatio: Math.round(judged.ratio * 1000) / 1000 });
    const zstd = judged?.worth === true;
    // Uncompressed: bytes uploaded of the envelope's known size. zstd: snapshot bytes compressed so
    // far (the object's size is known only at the end; the envelope never exceeds this bound by more
    // than a frame header, so it is also the part-size hint).
    const bytesTotal = snapshot.size + CRBU_HEADER_LENGTH + CRBU_TAG_LENGTH;
    const progress = (bytesDone: number): void => ctx.reportProgress({
      phase: 'upload', percent: Math.min(99, Math.floor((bytesDone / bytesTotal) * 100)), bytesDone, bytesTotal,
    });
    progress(0);
    const name = backupObjectName(backupId, 'database', 'master-key');
    // One Readable from the snapshot file to the store. Uncompressed: read into a reused buffer,
    // encrypted, handed on (CRBU v1). zstd: compressed on zstd's threads, then encrypted (CRBU v3).
    // A read, compression or encryption error fails the put (which leaves no object), and a failed
    // put destroys the stream, closing the file.
    const body = zstd
      ? pipeline(compressedFile(snapshot.path, config.compression.level, progress), createEncryptStream(config.masterKey, 3), () => undefined)
      : createEncryptedFileStream(snapshot.path, config.masterKey, 1);
    const uploaded = await store.put(name, body, {
      metadata: {
        'snapkeep-key': keyFingerprint(config.masterKey), 'snapkeep-format': zstd ? 'crbu3' : 'crbu1',
        ...(zstd ? { 'snapkeep-compression': 'zstd' } : {}),
        ...factsMetadata(backupId, { ...snapshot, format: zstd ? 'crbu3' : 'crbu1' }, config.masterKey),
      },
      expectedSize: bytesTotal,
      ...(zstd ? {} : { onProgress: progress }),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    ctx.reportProgress({ phase: 'upload', percent: 100, bytesDone: bytesTotal, bytesTotal });
    const result: BackupResult = {
      backupId,
      // The full key, as `GET /api/backups` lists it: store calls take `name`, people and other tools the key.
      key: store.keyOf(name),
      size: uploaded.size,
      databaseSize: snapshot.size,
      createdAt: createdAt.toISOString(),
      durationMs: Date.now() - started,
      kind: 'database',
      encryption: 'master-key',
      compression: zstd ? 'zstd' : 'none',
    };
    logger.info('backup completed', { key: result.key, size: result.size, durationMs: result.durationMs });
    return result;
  } finally {
    await rm(snapshot.path, { force: true });
  }
}
