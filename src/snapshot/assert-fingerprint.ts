import { SnapkeepError } from '../errors.js';
import { fingerprintDifference } from '../verification/compare-fingerprint.js';
import type { ContentFingerprint } from './content-fingerprint.js';
import { readFingerprint } from './snapshot-database.js';

/**
 * FingerprintMismatchError is a restored database that decrypted and passed integrity_check but
 * does not hold what its backup recorded; a restore drill reports it as its `fingerprint` check.
 */
export class FingerprintMismatchError extends SnapkeepError {
  constructor(backupId: string) {
    super('integrity_failed', `the restored database does not hold what backup ${backupId} recorded (its tables or row counts differ): the object was replaced or altered`);
    this.name = 'FingerprintMismatchError';
  }
}

/**
 * assertFingerprint checks a restored database file against the fingerprint its backup recorded
 * (row counts per table and the schema, or their digest) and throws FingerprintMismatchError when
 * they differ.
 */
export async function assertFingerprint(path: string, recorded: ContentFingerprint | { digest: string }, backupId: string): Promise<void> {
  if (fingerprintDifference(recorded, await readFingerprint(path)) !== undefined) throw new FingerprintMismatchError(backupId);
}
