import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readFacts, type BackupFacts } from '../../src/backups/backup-facts.js';
import { findBackup } from '../../src/backups/find-backup.js';
import { restoreJournalMode } from '../../src/snapshot/journal-mode.js';
import { createVersionDecoder } from '../../src/compression/decode-by-version.js';
import { createOutputLimit, restoreOutputLimit, type OutputLimit } from '../../src/compression/output-limit.js';
import { assertFingerprint } from '../../src/snapshot/assert-fingerprint.js';
import { isZstdError } from '../../src/compression/zstd.js';
import { createDecryptStream, UnsupportedCrbuVersionError } from '../../src/crypto/crbu-decrypt-stream.js';
import { ZSTD_CRBU_VERSIONS } from '../../src/crypto/crbu-format.js';
import { requireDbPath } from '../../src/config/load-config.js';
import { SnapkeepError, coerceError } from '../../src/errors.js';
import type { RestoreJobData, RestoreResult } from '../../src/queue/job-types.js';
import { sweepStaleTemporaries, temporaryPath } from '../../src/snapshot/temporary-files.js';
import { inWalMode, readSqlitePrefix, SQLITE_HEADER_LENGTH, verifySqliteFile } from '../../src/snapshot/verify-sqlite.js';
import { countDownload } from './download-progress.js';
import type { JobContext } from '../runtime/job-context.js';
import { masterKeysInOrder, type IndexedKey } from './master-keys.js';
import { assertRestoreTargetFree, explainDiskFull, placeRestore, restoreTargetPath, syncPath } from './restore-files.js';

export { restoreTargetPath } from './restore-files.js';

// Matches the decrypt stream's buffer: a few MiB in flight whatever the backup's size (peak RSS stays flat).
const WRITE_HIGH_WATER_MARK = 1024 * 1024;

/**
 * restore downloads a backup, decrypts it into a 0600 temporary file beside DB_PATH and keeps it
 * only when the GCM tag, the SQLite header and `PRAGMA integrity_check` all pass; then it moves
 * it to `{DB_PATH}.restore.{id}`, never over an existing one unless `force`. It never opens
 * DB_PATH. Every failure removes the temporary file.
 */
export async function restore(data: RestoreJobData, ctx: JobContext): Promise<RestoreResult> {
  const { config, store } = ctx;
  const started = Date.now();
  const logger = ctx.logger.child({ backupId: data.backupId });
  const backup = await findBackup(store, data.backupId);
  // Archives and age backups (issue 7): restore-archive.ts.
  // Loaded on demand: the archive and age code costs a database restore about 15 MB and 0.1 s to load.
  if (backup.encryption !== 'master-key' || backup.kind !== 'database') return (await import('./restore-archive.js')).restoreArchiveOrAge(backup, data, ctx);
  // Only a database restore needs DB_PATH (an archive goes under STATE_DIR or its target).
  const dbPath = requireDbPath(config, 'to restore a database backup');
  const target = restoreTargetPath(dbPath, backup.id);
  const force = data.force === true;
  await assertRestoreTargetFree(target, force);
  const keys = masterKeysInOrder(config, backup.metadata['snapkeep-key']);
  if (keys.length === 0) throw new SnapkeepError('invalid_config', 'MASTER_KEY is not set');

  // Beside DB_PATH, so the final rename is atomic (same filesystem); named so a later start cleans it if we die.
  await sweepStaleTemporaries(dirname(dbPath), logger);
  const temp = temporaryPath(dirname(dbPath), 'restore');
  logger.info('restore started', { target });
  // What the backup recorded about itself, authenticated by a master key (none: an older backup,
  // another CRBU writer's, or one planted in the bucket: restored, but as `unverified`).
  const facts = readFacts(backup.id, backup.metadata, keys.map((k) => k.key));
  if (!facts.authenticated) logger.warn('backup carries no authenticated record of what it holds: restored as unverified');
  const expectedVersion = facts.format === 'crbu1' ? 1 : facts.format === 'crbu3' ? 3 : undefined;
  const limit = await restoreOutputLimit(dirname(dbPath), backup.size, facts.size);
  try {
    const keyIndex = await decryptWithKeys(ctx, backup.name, keys, temp, { expectedVersion, limit });
    ctx.reportProgress({ phase: 'verify', percent: 0, bytesDone: 0, bytesTotal: 0 });
    logger.info('restore downloaded and decrypted; checking it', { downloadMs: Date.now() - started });
    // The flush to disk and the checks overlap (one writes the page cache out, the others read it):
    // both must pass before the file is placed, and a restore is shorter by the lesser.
    const [synced, checked] = await Promise.allSettled([syncPath(temp), checkRestoredFile(temp, facts.fingerprint, backup.id)]);
    if (checked.status === 'rejected') throw checked.reason;
    if (synced.status === 'rejected') throw synced.reason;
    // The live database's journal mode, as the backup recorded it (authenticated; older backups: none).
    const { journalMode } = facts;
    restoreJournalMode(temp, journalMode);
    if (journalMode === 'wal') await syncPath(temp);
    const size = (await stat(temp)).size;
    await placeRestore(temp, target, force);
    ctx.reportProgress({ phase: 'verify', percent: 100, bytesDone: size, bytesTotal: size });
    const result: RestoreResult = {
      backupId: backup.id, path: target, size, durationMs: Date.now() - started, keyIndex,
      ...(journalMode ? { journalMode } : {}), origin: facts.authenticated ? 'verified' : 'unverified',
    };
    logger.info('restore completed', { target, size, durationMs: result.durationMs, keyIndex });
    return result;
  } catch (err) {
    throw explain(err, dbPath);
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * checkRestoredFile runs `PRAGMA integrity_check` and, when the backup recorded one, compares the
 * content fingerprint (row counts and schema: a ciphertext swapped in from another backup of the same
 * key decrypts and passes integrity_check, but not this). The two run at once, each on its own
 * SQLite thread (two cores busy, not one after the other), except for a WAL-mode file (another
 * writer's; a snapkeep snapshot never is), whose read-only connections would make and remove the
 * same -wal and -shm. The integrity check's verdict comes first: a damaged file can make the
 * fingerprint fail too, for a less telling reason.
 */
async function checkRestoredFile(temp: string, fingerprint: BackupFacts['fingerprint'] | undefined, backupId: string): Promise<void> {
  const matchesRecord = (): Promise<void> => (fingerprint ? assertFingerprint(temp, fingerprint, backupId) : Promise.resolve());
  if (await inWalMode(temp)) {
    await verifySqliteFile(temp);
    await matchesRecord();
    return;
  }
  const [verified, matched] = await Promise.allSettled([verifySqliteFile(temp), matchesRecord()]);
  if (verified.status === 'rejected') throw verified.reason;
  if (matched.status === 'rejected') throw matched.reason;
}

/**
 * decryptWithKeys decrypts the object into temp with the first key that opens it and returns that
 * key's configured index. A key that fails the tag and yields no SQLite header is the wrong key;
 * one that yields a SQLite header is the right key of a damaged backup: no other key is tried.
 */
async function decryptWithKeys(ctx: JobContext, name: string, keys: IndexedKey[], temp: string, bounds: DecryptBounds): Promise<number> {
  for (const [position, { key, index }] of keys.entries()) {
    if ((await downloadAndDecrypt(ctx, name, key, temp, bounds)) === 'opened') return index;
    ctx.logger.info('backup did not open with this key', { keyPosition: position, keysLeft: keys.length - position - 1 });
  }
  throw new SnapkeepError('decrypt_failed', 'wrong master key or corrupted backup');
}

/** downloadAndDecrypt streams one attempt into temp (truncating it); 'wrong-key' when this key does not open the backup. */
/** DecryptBounds: the envelope version the backup recorded (if any) and how much may be written. */
interface DecryptBounds {
  expectedVersion: number | undefined;
  limit: OutputLimit;
}

async function downloadAndDecrypt(ctx: JobContext, name: string, key: Buffer, temp: string, bounds: DecryptBounds): Promise<'opened' | 'wrong-key'> {
  const object = await ctx.store.get(name, ctx.signal ? { signal: ctx.signal } : {});
  const bytesTotal = object.size;
  const counter = countDownload(ctx, bytesTotal);
  const probe = new PlaintextProbe();
  // A recorded format admits only its own version: an altered version byte fails here, before any zstd.
  const decrypt = createDecryptStream(key, { acceptVersions: bounds.expectedVersion !== undefined ? [bounds.expectedVersion] : [1, 3] });
  try {
    await pipeline(
      object.body,
      counter,
      decrypt,
      // Version 3 is zstd frames of the database: decompressed here, so the probe and the
      // integrity check see the database itself.
      createVersionDecoder(() => decrypt.version, ZSTD_CRBU_VERSIONS),
      createOutputLimit(bounds.limit),
      probe,
      // 'w' truncates: a second key's attempt starts from an empty file. Mode 0600 from creation on.
      createWriteStream(temp, { flags: 'w', mode: 0o600, highWaterMark: WRITE_HIGH_WATER_MARK }),
      ctx.signal ? { signal: ctx.signal } : {},
    );
  } catch (err) {
    if (isZstdError(err)) {
      if (counter.bytesDone < bytesTotal && decrypt.version !== null) throw new SnapkeepError('truncated', 'backup is truncated', { retryable: true, cause: err });
      // Noise where a zstd frame must start: this key decrypted the envelope into garbage.
      if (probe.bytes === 0 && (err as { code?: string }).code === 'ZSTD_error_prefix_unknown') return 'wrong-key';
      throw new SnapkeepError('integrity_failed', `backup is damaged: its zstd frame does not decode (${(err as Error).message})`, { cause: err });
    }
    if (!(err instanceof SnapkeepError) || err.code !== 'decrypt_failed') throw err;
    // The body ended before its announced size: the transfer was cut, another attempt may succeed.
    if (counter.bytesDone < bytesTotal) throw new SnapkeepError('truncated', 'backup is truncated', { retryable: true, cause: err });
    return diagnoseTagFailure(probe, err);
  }
  ctx.reportProgress({ phase: 'download', percent: 100, bytesDone: counter.bytesDone, bytesTotal });
  return 'opened';
}

/**
 * diagnoseTagFailure tells a wrong key from a damaged backup by the unverified plaintext: GCM is
 * counter mode, so the right key still decrypts the first bytes of a cut or damaged object into
 * SQLite's header, and a wrong key yields noise. The bytes decide only which error to give.
 */
function diagnoseTagFailure(probe: PlaintextProbe, tagError: SnapkeepError): 'wrong-key' {
  const prefix = readSqlitePrefix(probe.head);
  if (prefix.kind === 'foreign') return 'wrong-key';
  const short = prefix.kind === 'partial'
    || (prefix.expectedSize !== null ? probe.bytes < prefix.expectedSize : prefix.pageSize > 0 && probe.bytes % prefix.pageSize !== 0);
  if (short) throw new SnapkeepError('truncated', 'backup is truncated', { cause: tagError });
  throw tagError;
}

/** PlaintextProbe passes plaintext through, keeping its first 100 bytes and counting the rest. */
class PlaintextProbe extends Transform {
  head: Buffer = Buffer.alloc(0);
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    if (this.head.length < SQLITE_HEADER_LENGTH) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, SQLITE_HEADER_LENGTH - this.head.length)]);
    }
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** explain turns a failure into the operator's words: a full disk, an archive in a database's name. */
function explain(thrown: unknown, dbPath: string): Error {
  const err = coerceError(thrown);
  if (err instanceof UnsupportedCrbuVersionError && (err.version === 2 || err.version === 4)) {
    return new SnapkeepError('unsupported_version', `${err.message}: the object holds an archive envelope, but a .crbu backup must be a database (version 1)`, { cause: err });
  }
  return explainDiskFull(err, dbPath);
}
