import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readFacts } from '../../src/backups/backup-facts.js';
import { findBackup } from '../../src/backups/find-backup.js';
import { SnapkeepError, type ErrorCode } from '../../src/errors.js';
import type { BackupVerification, RestoreResult, VerifyCheck } from '../../src/queue/job-types.js';
import { readFingerprint } from '../../src/snapshot/snapshot-database.js';
import { fingerprintDifference } from '../../src/verification/compare-fingerprint.js';
import { snapshotTempDir } from '../backup/backup.js';
import type { JobContext } from '../runtime/job-context.js';
import { partialRestorePath, removeStalePartialRestores, removeTree } from '../restore/partial-restores.js';
import { restore } from '../restore/restore.js';
import { masterKeysOf } from '../../src/config/master-keys.js';
import { FingerprintMismatchError } from '../../src/snapshot/assert-fingerprint.js';

/** The check each restore failure belongs to: a non-retryable failure with one of these codes is a verdict. */
const CHECK_OF: Partial<Record<ErrorCode, VerifyCheck>> = {
  truncated: 'download',
  decrypt_failed: 'decrypt',
  not_crbu: 'decrypt',
  unsupported_version: 'decrypt',
  unverified_origin: 'origin',
  archive_invalid: 'archive-entries',
  not_sqlite: 'sqlite-header',
  integrity_failed: 'integrity_check',
};

/** checkOf is the check a restore failure belongs to, or undefined when it says nothing about the backup. */
function checkOf(error: unknown): VerifyCheck | undefined {
  if (!(error instanceof SnapkeepError) || error.retryable) return undefined;
  // A database restore compares the recorded fingerprint itself (src/snapshot/assert-fingerprint.ts).
  if (error instanceof FingerprintMismatchError) return 'fingerprint';
  return CHECK_OF[error.code];
}

const DATABASE_CHECKS: VerifyCheck[] = ['download', 'decrypt', 'sqlite-header', 'integrity_check', 'fingerprint'];
const ARCHIVE_CHECKS: VerifyCheck[] = ['download', 'decrypt', 'origin', 'archive-entries', 'sqlite-header', 'integrity_check', 'fingerprint'];
// An archive of only directories and streams: no database to check (its failures all come before sqlite-header).
const DATABASELESS_ARCHIVE_CHECKS: VerifyCheck[] = ['download', 'decrypt', 'origin', 'archive-entries'];
// The metadata entry that says a fingerprint was recorded at all (backup-facts.ts writes it).
const RECORDED_FINGERPRINT = 'snapkeep-fingerprint';

/**
 * verifyBackup is one restore drill: the whole restore path (download, decryption and its tag, the
 * SQLite header and integrity_check, for an archive its manifest's origin and every entry), run by
 * the restore job itself into a scratch directory under STATE_DIR/tmp, never beside DB_PATH; then
 * the restored database's content fingerprint against the one recorded, authenticated, at backup
 * time. The scratch directory goes whatever happens (a killed drill's: by the next drill). A check
 * that fails is the result (`verified: false`); a failure no check explains (the store is down, a
 * key is missing) is thrown, so the job retries or fails as any job does. An archive of only
 * directories and streams has no database checks to run: its drill ends at archive-entries.
 */
export async function verifyBackup(backupId: string, data: { sealedPassphrase?: string }, ctx: JobContext): Promise<BackupVerification> {
  const started = Date.now();
  const found = await findBackup(ctx.store, backupId);
  const order = found.kind === 'archive' ? ARCHIVE_CHECKS : DATABASE_CHECKS;
  const tmp = snapshotTempDir(ctx.config.stateDir);
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  await removeStalePartialRestores(tmp, ctx.logger);
  const scratch = partialRestorePath(join(tmp, `verify-${backupId}`));
  await mkdir(scratch, { mode: 0o700 });
  const logger = ctx.logger.child({ backupId, drill: true });
  const finish = (outcome: DrillOutcome, checks = order): BackupVerification => {
    const verification = verificationOf(backupId, checks, Date.now() - started, outcome);
    if (outcome.failed) logger.warn('restore drill failed', { check: outcome.failed.check, reason: outcome.failed.reason });
    else logger.info('restore drill passed', { durationMs: verification.durationMs });
    return verification;
  };
  // DB_PATH is the scratch directory's: the restore job writes only there (and an archive into it).
  const config = { ...ctx.config, dbPath: join(scratch, 'database.sqlite'), restoreRoot: scratch };
  try {
    let restored: RestoreResult;
    try {
      restored = await restore({
        backupId, ...(data.sealedPassphrase !== undefined ? { sealedPassphrase: data.sealedPassphrase } : {}),
        ...(found.kind === 'archive' ? { target: join(scratch, 'archive') } : {}),
      }, { ...ctx, config, logger, trustUnverifiedOrigin: false });
    } catch (error) {
      const check = checkOf(error);
      if (!check) throw error;
      return finish({ failed: { check, reason: (error as Error).message } });
    }
    // An archive's database is the move planned to DB_PATH; a database restore is the file itself.
    const database = restored.archive ? restored.archive.moves.find((m) => m.to === config.dbPath)?.from : restored.path;
    if (database === undefined) return finish({}, DATABASELESS_ARCHIVE_CHECKS);
    const masterKeys = masterKeysOf(ctx.config);
    const facts = readFacts(backupId, found.metadata, masterKeys);
    if (!facts.authenticated && found.metadata[RECORDED_FINGERPRINT] !== undefined) {
      return finish({ failed: { check: 'fingerprint', reason: 'the fingerprint recorded with the backup does not verify under any master key: its metadata was altered' } });
    }
    if (!facts.fingerprint) return finish({ fingerprintSkipped: 'no fingerprint was recorded with this backup (made before snapkeep recorded one)' });
    // A CRBU database restore (workers/restore/restore.ts) has just compared these same authenticated facts
    // (a difference would have failed it above): reading every table's rows again would only repeat
    // that. Archive and age restores do not compare them.
    if (found.kind === 'database' && found.encryption === 'master-key') return finish({});
    const difference = fingerprintDifference(facts.fingerprint, await readFingerprint(database));
    return finish(difference ? { failed: { check: 'fingerprint', reason: difference } } : {});
  } finally {
    await removeTree(scratch);
  }
}

/** DrillOutcome is how a drill ended: a check failed, or all passed (the fingerprint's perhaps skipped). */
interface DrillOutcome {
  failed?: { check: VerifyCheck; reason: string };
  fingerprintSkipped?: string;
}

/** verificationOf lists the checks in order: those before the failed one passed, none after it ran. */
function verificationOf(backupId: string, order: VerifyCheck[], durationMs: number, outcome: DrillOutcome): BackupVerification {
  const { failed } = outcome;
  const checks: BackupVerification['checks'] = order.slice(0, failed ? order.indexOf(failed.check) : order.length).map((check) => ({ check, outcome: 'passed' }));
  if (failed) checks.push({ check: failed.check, outcome: 'failed', detail: failed.reason });
  else if (outcome.fingerprintSkipped !== undefined) checks[checks.length - 1] = { check: 'fingerprint', outcome: 'skipped', detail: outcome.fingerprintSkipped };
  return {
    backupId, verified: !failed, verifiedAt: new Date().toISOString(), durationMs, checks,
    ...(failed ? { failedCheck: failed.check, reason: failed.reason } : {}),
  };
}
