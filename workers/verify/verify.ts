import { randomInt } from 'node:crypto';
import { listStoredBackups } from '../../src/backups/list-backups.js';
import { BackupNotFoundError, SnapkeepError } from '../../src/errors.js';
import type { BackupVerification, VerifyJobData, VerifyResult } from '../../src/queue/job-types.js';
import type { JobContext } from '../runtime/job-context.js';
import { verifyBackup } from './verify-backup.js';

/**
 * verify is the `verify` job: a restore drill of the backup asked for, or, for the schedule, of the
 * newest backup and one older backup picked at random (among those the service can open: master-key
 * backups). Each drill's outcome is in the result; recording it and notifying is the caller's
 * (the worker's wrapper), so the CLI can run this without Redis.
 */
export async function verify(data: VerifyJobData, ctx: JobContext): Promise<VerifyResult> {
  if (data.trigger !== 'schedule') {
    if (data.backupId === undefined) throw new SnapkeepError('invalid_job', 'a verify job names a backup unless the schedule made it');
    return resultOf([await verifyBackup(data.backupId, data, ctx)]);
  }
  const candidates = (await listStoredBackups(ctx.store, { logger: ctx.logger }))
    .filter((b) => !b.future && b.error === undefined && b.encryption === 'master-key');
  const [newest, ...older] = candidates;
  if (!newest) {
    ctx.logger.info('restore drill: nothing to verify');
    return { ...resultOf([]), skippedReason: 'no backup the service can open (master-key backups) is stored yet' };
  }
  const picks = older.length > 0 ? [newest, older[randomInt(older.length)]!] : [newest];
  const verifications: BackupVerification[] = [];
  for (const pick of picks) {
    try {
      verifications.push(await verifyBackup(pick.id, {}, ctx));
    } catch (error) {
      // Pruned since the listing (the prune after a scheduled backup may run meanwhile): nothing wrong with it.
      if (!(error instanceof BackupNotFoundError)) throw error;
      ctx.logger.info('restore drill: backup pruned before its turn', { backupId: pick.id });
    }
  }
  return resultOf(verifications);
}

const resultOf = (verifications: BackupVerification[]): VerifyResult => ({ verifications, verified: verifications.every((v) => v.verified) });
