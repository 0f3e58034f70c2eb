import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { Readable, Transform } from 'node:stream';
import { ageEncrypt, assertAgeRecipients } from '../../src/age/age-encrypt.js';
import { databaseArchivePath } from '../../src/archive/archive-paths.js';
import { buildManifest, hashDatabaseSnapshot } from '../../src/archive/build-manifest.js';
import { collectSources, type ProtectedPath } from '../../src/archive/collect-sources.js';
import { serializeManifest } from '../../src/archive/manifest.js';
import { signManifest } from '../../src/archive/manifest-origin.js';
import { stageSources } from '../../src/archive/stage-sources.js';
import { stageStreams } from '../../src/archive/stage-streams.js';
import { tarSizeEstimate, writeArchive } from '../../src/archive/write-archive.js';
import { factsMetadata } from '../../src/backups/backup-facts.js';
import { compressed } from '../../src/compression/compressed-plaintext.js';
import { backupObjectName, newBackupId, type BackupKind } from '../../src/backups/backup-id.js';
import type { Config } from '../../src/config/config.js';
import { createEncryptStream } from '../../src/crypto/crbu-encrypt-stream.js';
import { CRBU_HEADER_LENGTH, CRBU_TAG_LENGTH } from '../../src/crypto/crbu-format.js';
import { keyFingerprint } from '../../src/crypto/derive-backup-key.js';
import { SnapkeepError } from '../../src/errors.js';
import type { BackupJobData, BackupResult } from '../../src/queue/job-types.js';
import { snapshotDatabase, type SnapshotResult } from '../../src/snapshot/snapshot-database.js';
import { sweepStaleTemporaries, temporaryPath } from '../../src/snapshot/temporary-files.js';
import { snapshotTempDir } from './backup.js';
import { isArchive } from './backup-kind.js';
import type { JobContext } from '../runtime/job-context.js';
import { uploadEncrypted } from './upload-encrypted.js';

/** Protection is who can open a backup: the master key, a passphrase, or the holders of age identities. */
export type Protection = BackupResult['encryption'];

/**
 * isArchiveOrAgeBackup says whether a backup leaves the seed's path (a CRBU v1 database): with
 * BACKUP_INCLUDE_PATHS it is an archive, with a passphrase or BACKUP_AGE_RECIPIENTS it is age.
 */
export { isArchiveOrAgeBackup } from './backup-kind.js';

/**
 * backupArchiveOrAge takes an archive or age backup: snapshot (when the source has a database),
 * then (for an archive) stage and hash the included paths and each stream's stdout, then stream
 * the tar (manifest first) or the bare snapshot through CRBU v2 or age into the store. The
 * snapshot and the 0600 staging file are removed whatever happens, as soon as the upload ends. A
 * passphrase is opened from its sealed box in memory only.
 */
export async function backupArchiveOrAge(data: BackupJobData, ctx: JobContext): Promise<BackupResult> {
  const { config } = ctx;
  // An archive of only directories and streams needs no database; anything else does.
  if (!config.dbPath && !isArchive(config)) throw new SnapkeepError('invalid_config', 'DB_PATH is not set');
  const protection: Protection = data.sealedPassphrase !== undefined ? 'passphrase' : config.ageRecipients.length > 0 ? 'public-key' : 'master-key';
  // A passphrase always makes an archive: its manifest is what tells a restore what it holds.
  const kind: BackupKind = isArchive(config) || protection === 'passphrase' ? 'archive' : 'database';
  // Every archive needs it: a master-key archive is encrypted with it, an age archive's manifest signed with it.
  if (!config.masterKey) throw new SnapkeepError('invalid_config', 'MASTER_KEY is not set');
  if (protection === 'public-key') assertAgeRecipients(config.ageRecipients);
  // Before any work: a request sealed for workers that are gone fails at once, with no retry.
  const passphrase = data.sealedPassphrase !== undefined ? await openPassphrase(ctx, data.sealedPassphrase) : undefined;

  const started = Date.now();
  const createdAt = new Date();
  const backupId = newBackupId(createdAt);
  const logger = ctx.logger.child({ backupId });
  logger.info('backup started', { trigger: data.trigger, kind, encryption: protection });
  ctx.reportProgress({ phase: 'snapshot', percent: 0, bytesDone: 0, bytesTotal: 0 });
  const tempDir = snapshotTempDir(config.stateDir);
  await mkdir(tempDir, { recursive: true, mode: 0o700 });
  await sweepStaleTemporaries(tempDir, logger);
  const snapshot = config.dbPath ? await snapshotDatabase(config.dbPath, tempDir) : undefined;
  const stagingPath = temporaryPath(tempDir, 'snapshot', '.archive.tmp');
  try {
    const plaintext = kind === 'archive'
      ? await prepareArchive(ctx, { backupId, createdAt, snapshot, stagingPath })
      : { stream: createReadStream(snapshot!.path, { highWaterMark: 1024 * 1024 }) as Readable, size: snapshot!.size, files: 0 };
    const zstd = config.compression.type === 'zstd';
    const name = backupObjectName(backupId, kind, protection === 'master-key' ? 'master-key' : 'age', config.compression.type);
    // Compressed before it is encrypted (ciphertext does not compress): CRBU v4, or `.zst.age`.
    let source: Readable = zstd ? compressed(plaintext.stream, config.compression.level) : plaintext.stream;
    const transforms: Transform[] = [];
    const metadata: Record<string, string> = {
      'snapkeep-format': `${kind}-${protection === 'master-key' ? (zstd ? 'crbu4' : 'crbu2') : 'age'}`, 'snapkeep-encryption': protection,
      ...(zstd ? { 'snapkeep-compression': 'zstd' } : {}),
      // An archive's manifest records them too (authenticated with it); a bare age database has only these.
      ...(snapshot ? factsMetadata(backupId, { ...snapshot, format: protection === 'master-key' ? (zstd ? 'crbu4' : 'crbu2') : 'age', ...(kind === 'archive' ? { size: undefined } : {}) }, config.masterKey) : {}),
    };
    if (protection === 'master-key') {
      transforms.push(createEncryptStream(config.masterKey!, zstd ? 4 : 2));
      metadata['snapkeep-key'] = keyFingerprint(config.masterKey!);
    } else {
      source = await ageEncrypt(source, passphrase !== undefined ? { passphrase } : { recipients: config.ageRecipients });
    }
    const overhead = protection === 'master-key' ? CRBU_HEADER_LENGTH + CRBU_TAG_LENGTH : 300 + Math.ceil(plaintext.size / 65536) * 16;
    const stored = await uploadEncrypted(ctx, source, transforms, { name, metadata, bytesTotal: plaintext.size + overhead });
    // The full key, as `GET /api/backups` lists it (store calls take `name`).
    const result: BackupResult = {
      backupId, key: ctx.store.keyOf(name), size: stored.size, databaseSize: snapshot?.size ?? 0, createdAt: createdAt.toISOString(),
      durationMs: Date.now() - started, kind, encryption: protection, compression: config.compression.type,
    };
    logger.info('backup completed', { key: result.key, size: result.size, files: plaintext.files, durationMs: result.durationMs });
    return result;
  } finally {
    if (snapshot) await rm(snapshot.path, { force: true });
    await rm(stagingPath, { force: true });
  }
}

/**
 * prepareArchive walks, stages and hashes the included paths, runs each stream's command into the
 * same staging file, and returns the tar stream to encrypt. Streams run with the environment the
 * application's commands get (no MASTER_KEY, no snapkeep setting) and stop with the job.
 */
async function prepareArchive(
  ctx: JobContext,
  options: { backupId: string; createdAt: Date; snapshot: SnapshotResult | undefined; stagingPath: string },
): Promise<{ stream: Readable; size: number; files: number }> {
  const { config } = ctx;
  const { snapshot, stagingPath } = options;
  const progress = (bytes: number): void => ctx.reportProgress({ phase: 'snapshot', percent: 50, bytesDone: bytes, bytesTotal: 0 });
  const collected = await collectSources(config.includePaths, { exclude: config.exclude, protect: protectedPaths(config) });
  const staged = await stageSources(collected.entries, stagingPath, progress);
  const streams = await stageStreams(config.streams, stagingPath, {
    offset: staged.bytes, env: config.appCommands.env, onProgress: progress, ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const database = snapshot && config.dbPath ? await hashDatabaseSnapshot(snapshot.path, databaseArchivePath(config.dbPath), config.dbPath) : undefined;
  // Signed, so a restore can tell this archive from one someone else made with the public key.
  const manifest = signManifest(buildManifest({
    backupId: options.backupId, createdAt: options.createdAt, database, sources: collected.sources,
    exclude: config.exclude, entries: staged.entries, streams: streams.streams, skipped: [...collected.skipped, ...staged.skipped],
    ...(snapshot ? { facts: { journalMode: snapshot.journalMode, fingerprint: snapshot.fingerprint } } : {}),
  }), config.masterKey!);
  const content = { manifest, database, stagingPath, entries: staged.entries, streams: streams.streams };
  ctx.logger.info('archive staged', { entries: staged.entries.length, streams: streams.streams.length, bytes: streams.bytes, skipped: manifest.skipped.length });
  return {
    stream: writeArchive(content),
    size: tarSizeEstimate(content, serializeManifest(manifest).length),
    files: staged.entries.filter((e) => e.type === 'file').length,
  };
}

/**
 * protectedPaths are never archived from the include paths: the live database and its journals
 * (copying them raw gives a corrupt copy; the archive holds the consistent snapshot instead),
 * restores beside it, and snapkeep's own state and store (the staging file itself lives there).
 */
function protectedPaths(config: Config): ProtectedPath[] {
  const { dbPath } = config;
  const live = 'the live database (archived as its snapshot under database/)';
  return [
    ...(dbPath ? databasePaths(dbPath, live) : []),
    { path: config.stateDir, reason: 'snapkeep\'s STATE_DIR', scope: 'subtree' },
    ...(config.store?.type === 'local' ? [{ path: config.store.dir, reason: 'the backup store (BACKUP_LOCAL_DIR)', scope: 'subtree' } satisfies ProtectedPath] : []),
  ];
}

function databasePaths(dbPath: string, live: string): ProtectedPath[] {
  return [
    { path: dbPath, reason: live, scope: 'path' },
    ...['-wal', '-shm', '-journal'].map((suffix): ProtectedPath => ({ path: `${dbPath}${suffix}`, reason: live, scope: 'path' })),
    { path: `${dbPath}.restore.`, reason: 'a restore of the database', scope: 'prefix' },
  ];
}

async function openPassphrase(ctx: JobContext, sealed: string): Promise<string> {
  if (!ctx.keyring) throw new SnapkeepError('identity_required', 'this process holds no key to open the sealed passphrase: request the backup again');
  return ctx.keyring.open(sealed);
}
