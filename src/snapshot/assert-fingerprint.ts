import { fingerprintDigest } from '../backups/backup-facts.js';
import { SnapkeepError } from '../errors.js';
import type { ContentFingerprint } from './content-fingerprint.js';
import { readFingerprint } from './snapshot-database.js';

/**
 * assertFingerprint checks a restored database file against the fingerprint its backup recorded
 * (row counts per table and the schema, or their digest) and fails naming what differs.
 */
export async function assertFingerprint(path: string, recorded: ContentFingerprint | { digest: string }, backupId: string): Promise<void> {
  const actual = await readFingerprint(path);
  const same = 'digest' in recorded
    ? fingerprintDigest(actual) === recorded.digest
    : recorded.schemaSha256 === actual.schemaSha256 && JSON.stringify(sortKeys(recorded.tables)) === JSON.stringify(sortKeys(actual.tables));
  if (!same) {
    throw new SnapkeepError('integrity_failed', `the restored database does not hold what backup ${backupId} recorded (its tables or row counts differ): the object was replaced or altered`);
  }
}

const sortKeys = (o: Record<string, number>): Array<[string, number]> => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));
