import { readFacts } from '../../src/backups/backup-facts.js';
import { listStoredBackups, type StoredBackup } from '../../src/backups/list-backups.js';
import { writeAnomalyRecord, type AnomalyRecord } from '../../src/guardrail/anomaly-records.js';
import { detectAnomaly, type BackupShape } from '../../src/guardrail/detect-anomaly.js';
import type { BackupResult } from '../../src/queue/job-types.js';
import type { JobContext } from '../runtime/job-context.js';

/**
 * checkForAnomaly compares a backup just stored with the backup before it (issue 16): the stored
 * size (same format only) and the content fingerprints recorded, authenticated, with each. When
 * the database looks emptied or truncated, the backup stays stored but is flagged: a signed
 * record beside it (src/guardrail/anomaly-records.ts), which makes every prune keep the newest
 * backup before it until `backup accept`. Returns the record, or undefined when nothing is wrong
 * (or there is nothing to compare with). Throws when the store cannot be read or written.
 */
export async function checkForAnomaly(result: Pick<BackupResult, 'backupId'>, ctx: Pick<JobContext, 'config' | 'store' | 'logger'>): Promise<AnomalyRecord | undefined> {
  const { config, store } = ctx;
  if (config.anomalyShrinkPercent <= 0 || !config.masterKey) return undefined;
  const backups = await listStoredBackups(store);
  const current = backups.find((b) => b.id === result.backupId);
  // Newest first: the first older one that is neither future-dated nor unreadable came just before.
  const previous = backups.find((b) => b.id < result.backupId && !b.future && b.error === undefined);
  if (!current || !previous) return undefined;
  const keys = [config.masterKey, ...config.previousMasterKeys];
  const shape = async (backup: StoredBackup): Promise<BackupShape> => {
    const head = await store.head(backup.name);
    const { fingerprint } = readFacts(backup.id, head.metadata, keys);
    const format = head.metadata['snapkeep-format'];
    return { id: backup.id, size: head.size, ...(format !== undefined ? { format } : {}), ...(fingerprint ? { fingerprint } : {}) };
  };
  const [before, after] = await Promise.all([shape(previous), shape(current)]);
  const reasons = detectAnomaly(before, after, config.anomalyShrinkPercent);
  if (reasons.length === 0) return undefined;
  const record: AnomalyRecord = { backupId: result.backupId, flaggedAt: new Date().toISOString(), previousId: previous.id, reasons };
  await writeAnomalyRecord(store, record, config.masterKey);
  ctx.logger.warn('backup flagged as an anomaly: the prune keeps the backup before it until `snapkeep backup accept`', { backupId: record.backupId, previousId: previous.id, reasons });
  return record;
}
