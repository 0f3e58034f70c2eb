import { lstat, mkdir, open, rename, rmdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { AgeKeys } from '../../src/age/age-decrypt.js';
import { extractArchive } from '../../src/archive/extract-archive.js';
import { checkManifestOrigin, type ArchiveOrigin } from '../../src/archive/manifest-origin.js';
import type { ManifestDatabase } from '../../src/archive/manifest.js';
import { planMoves, streamsToFeed } from '../../src/archive/plan-moves.js';
import { restoreJournalMode } from '../../src/snapshot/journal-mode.js';
import { SnapkeepError, coerceError } from '../../src/errors.js';
import type { RestoreJobData, RestoreResult } from '../../src/queue/job-types.js';
import { verifySqliteFile } from '../../src/snapshot/verify-sqlite.js';
import type { JobContext } from '../runtime/job-context.js';
import { openBackupPlaintext, type FoundBackup } from './open-backup-plaintext.js';
import { partialRestorePath, removeStalePartialRestores, removeTree, restoreRootDir } from './partial-restores.js';
import { restoreAgeDatabase } from './restore-age-database.js';
import { masterKeysOf } from '../../src/config/master-keys.js';

/** archiveRestoreDir is where an archive is restored by default: `{STATE_DIR}/restore/{id}`. */
export const archiveRestoreDir = (stateDir: string, backupId: string): string => join(restoreRootDir(stateDir), backupId);

/**
 * restoreArchiveOrAge restores what the seed's restore does not: archives (`.tar.crbu`,
 * `.tar.age`) into a new directory, and age database backups (`.age`) beside DB_PATH. Keys come
 * from the job (a sealed passphrase) and the process (identities given to the CLI), never from
 * settings: the service itself cannot open a public-key backup.
 */
export async function restoreArchiveOrAge(backup: FoundBackup, data: RestoreJobData, ctx: JobContext): Promise<RestoreResult> {
  const keys = await restoreKeys(data, ctx);
  if (backup.kind === 'database') return restoreAgeDatabase(backup, data, ctx, keys);
  return restoreArchive(backup, data, ctx, keys);
}

/**
 * restoreArchive extracts an archive into a hidden sibling of the target, checks every entry
 * against the manifest and the database (if any) with integrity_check, and only then renames it
 * to the target, which must not exist: a failure leaves nothing behind, and nothing live is
 * touched. A stream is restored as the file `streams/{name}`, for its restoreCommand.
 */
async function restoreArchive(backup: FoundBackup, data: RestoreJobData, ctx: JobContext, keys: AgeKeys): Promise<RestoreResult> {
  const started = Date.now();
  const logger = ctx.logger.child({ backupId: backup.id });
  const target = data.target ? resolve(data.target) : archiveRestoreDir(ctx.config.stateDir, backup.id);
  if (await exists(target)) throw restoreExists(target);
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  // Worker start cleans STATE_DIR/restore; a --target elsewhere (and a CLI run, which starts no
  // worker) has its siblings cleaned here, by the next restore into the same parent.
  await removeStalePartialRestores(dirname(target), logger);
  const temp = partialRestorePath(target);
  await mkdir(temp, { mode: 0o700 });
  logger.info('archive restore started', { target });
  let placed = false;
  try {
    const plaintext = await openBackupPlaintext(ctx, backup, keys);
    let origin: ArchiveOrigin = 'unverified';
    const extracted = await extractArchive(plaintext.stream, temp, backup.id, {
      checkManifest: (manifest) => {
        origin = checkManifestOrigin(manifest, {
          masterKeys: masterKeysOf(ctx.config),
          encryptedWithMasterKey: backup.encryption === 'master-key',
          trustUnverified: ctx.trustUnverifiedOrigin === true,
        });
      },
    });
    if (origin === 'unverified') logger.warn('archive restored although its origin could not be verified (--trust-unverified)');
    ctx.reportProgress({ phase: 'verify', percent: 0, bytesDone: 0, bytesTotal: extracted.bytes });
    const { database } = extracted.manifest;
    if (database) await verifyRestoredDatabase(join(temp, database.path), database);
    await placeDirectory(temp, target);
    placed = true;
    ctx.reportProgress({ phase: 'verify', percent: 100, bytesDone: extracted.bytes, bytesTotal: extracted.bytes });
    const result: RestoreResult = {
      backupId: backup.id,
      path: target,
      size: extracted.bytes,
      durationMs: Date.now() - started,
      ...(plaintext.keyIndex !== undefined ? { keyIndex: plaintext.keyIndex } : {}),
      archive: {
        files: extracted.files,
        moves: planMoves(extracted.manifest, target, ctx.config.dbPath),
        // Streams are listed with what to do instead of a move: RestoredArchive has no field of their own.
        skipped: [...extracted.manifest.skipped, ...streamsToFeed(extracted.manifest, target)],
      },
      origin,
    };
    logger.info('archive restore completed', { target, files: extracted.files, bytes: extracted.bytes, durationMs: result.durationMs });
    return result;
  } finally {
    if (!placed) await removeTree(temp);
  }
}

/** verifyRestoredDatabase runs integrity_check on the archive's database and gives it the journal mode recorded. */
async function verifyRestoredDatabase(path: string, database: ManifestDatabase): Promise<void> {
  await verifySqliteFile(path).catch((error: unknown) => {
    throw new SnapkeepError('integrity_failed', `${database.path}: ${coerceError(error).message}`, { cause: error });
  });
  // WAL stays WAL (issue 15): the manifest recorded the live database's mode (authenticated with it).
  restoreJournalMode(path, database.journalMode);
}

/** restoreKeys opens the job's sealed passphrase and adds the CLI's identities, all in memory. */
async function restoreKeys(data: RestoreJobData, ctx: JobContext): Promise<AgeKeys> {
  const keys: AgeKeys = {};
  if (data.sealedPassphrase !== undefined) {
    if (!ctx.keyring) throw new SnapkeepError('identity_required', 'this process holds no key to open the sealed passphrase: request the restore again');
    keys.passphrase = await ctx.keyring.open(data.sealedPassphrase);
  }
  if (ctx.ageIdentities && ctx.ageIdentities.length > 0) keys.identities = ctx.ageIdentities;
  return keys;
}

/**
 * placeDirectory claims target with an exclusive mkdir, then renames the verified tree over that
 * empty directory (rename replaces an empty one atomically): a target that appeared meanwhile is
 * never replaced.
 */
async function placeDirectory(temp: string, target: string): Promise<void> {
  try {
    await mkdir(target, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw restoreExists(target);
    throw error;
  }
  try {
    await rename(temp, target);
  } catch (error) {
    await rmdir(target).catch(() => undefined);
    throw error;
  }
  const parent = await open(dirname(target), 'r');
  try {
    await parent.sync();
  } finally {
    await parent.close();
  }
}

const restoreExists = (target: string): SnapkeepError =>
  new SnapkeepError('restore_exists', `${target} already exists; move it away or restore with --target DIR`);

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}
