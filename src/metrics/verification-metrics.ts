import { Counter, Gauge, Registry } from 'prom-client';
import type { VerificationRecords } from '../verification/verification-records.js';

/**
 * verificationRegistry renders the restore drills' records (issue 16) for /metrics: when a
 * verification last passed, and how many failed. Read from Redis at scrape time, like the job
 * statistics, and only what a master-key holder signed counts (verification-records.ts).
 */
export async function verificationRegistry(records: VerificationRecords): Promise<Registry> {
  const state = await records.read();
  const registry = new Registry();
  new Gauge({
    name: 'snapkeep_last_verified_backup_timestamp_seconds',
    help: 'Unix time of the last restore drill that verified a backup (download, decryption, integrity_check, content fingerprint); 0 when none has. Alert when time() minus this exceeds the drill schedule.',
    registers: [registry],
  }).set(state.lastGood ? Date.parse(state.lastGood.verifiedAt) / 1000 : 0);
  new Counter({
    name: 'snapkeep_verifications_failed_total',
    help: 'Restore drills whose backup failed a check (which one: the job result, the verify.failed notification). Any increase means a backup that would not restore.',
    registers: [registry],
  }).inc(state.failed);
  return registry;
}
