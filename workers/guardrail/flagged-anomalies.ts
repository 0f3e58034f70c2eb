import { parseBackupTime } from '../../src/backups/backup-id.js';
import { readAnomalyRecords } from '../../src/guardrail/anomaly-records.js';
import type { JobContext } from '../runtime/job-context.js';

/**
 * flaggedAnomalies are the backups flagged as anomalous and not yet accepted, with their times, for
 * the retention plan (`before-anomaly`). A record that fails its check is ignored and logged at
 * warn; a store that cannot be read fails the prune, which then deletes nothing.
 */
export async function flaggedAnomalies(ctx: Pick<JobContext, 'config' | 'store' | 'logger'>): Promise<Array<{ id: string; createdAt: Date }>> {
  const { records, forged } = await readAnomalyRecords(ctx.store, [ctx.config.masterKey, ...ctx.config.previousMasterKeys]);
  for (const name of forged) ctx.logger.warn('anomaly record ignored: its MAC does not verify under any master key (written by someone else?)', { name });
  return records.map((r) => ({ id: r.backupId, createdAt: parseBackupTime(r.backupId)! }));
}
