import { readAnomalyRecords } from '../guardrail/anomaly-records.js';
import type { BackupStore } from '../storage/backup-store.js';
import { withTimeout } from '../with-timeout.js';
import type { VerificationRecords } from './verification-records.js';

/** BackupStatus is what issue 16 adds to a listed backup: its last drill, and its anomaly flag. */
export interface BackupStatus {
  verified?: boolean;
  verifiedAt?: string;
  anomaly?: { reason: string; flaggedAt: string; previousId: string };
}

// A listing must answer with Redis away: without the drills' records, then.
const REDIS_TIMEOUT_MS = 2000;

/**
 * withBackupStatus adds each backup's last verification (from Redis, signed) and anomaly flag
 * (from the store, signed) to a listing; a value that fails its check is left out. The listing
 * still answers when Redis is unreachable, without the verification fields.
 */
export async function withBackupStatus<T extends { id: string }>(
  entries: T[],
  sources: { store: BackupStore; masterKeys: ReadonlyArray<Buffer | undefined>; verifications?: VerificationRecords },
): Promise<Array<T & BackupStatus>> {
  const [anomalies, verifications] = await Promise.all([
    readAnomalyRecords(sources.store, sources.masterKeys),
    sources.verifications ? withTimeout(sources.verifications.read(), REDIS_TIMEOUT_MS).catch(() => undefined) : undefined,
  ]);
  const flagged = new Map(anomalies.records.map((r) => [r.backupId, r]));
  return entries.map((entry) => {
    const drill = verifications?.byBackup.get(entry.id);
    const anomaly = flagged.get(entry.id);
    return {
      ...entry,
      ...(drill ? { verified: drill.verified, verifiedAt: drill.verifiedAt } : {}),
      ...(anomaly ? { anomaly: { reason: anomaly.reasons.join('; '), flaggedAt: anomaly.flaggedAt, previousId: anomaly.previousId } } : {}),
    };
  });
}
