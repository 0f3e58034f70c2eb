import { fingerprintDigest } from '../backups/backup-facts.js';
import type { ContentFingerprint } from '../snapshot/content-fingerprint.js';

// A drill names a few differing tables, not hundreds.
const NAMED_TABLES = 5;

/**
 * fingerprintDifference says how a restored database's fingerprint differs from the one recorded
 * at backup time, or undefined when they match. A fingerprint recorded only as a digest (too large
 * for metadata) is compared by digest.
 */
export function fingerprintDifference(recorded: ContentFingerprint | { digest: string }, actual: ContentFingerprint): string | undefined {
  if ('digest' in recorded) {
    return fingerprintDigest(actual) === recorded.digest ? undefined : 'the restored content does not match the fingerprint recorded at backup time (digest differs)';
  }
  const differences: string[] = [];
  if (recorded.schemaSha256 !== actual.schemaSha256) differences.push('the schema differs');
  const names = [...new Set([...Object.keys(recorded.tables), ...Object.keys(actual.tables)])].sort();
  const tables = names.filter((name) => recorded.tables[name] !== actual.tables[name]).map((name) =>
    `table ${name}: ${actual.tables[name] ?? 'missing'} rows, ${recorded.tables[name] ?? 'none'} recorded`);
  differences.push(...tables.slice(0, NAMED_TABLES));
  if (tables.length > NAMED_TABLES) differences.push(`${tables.length - NAMED_TABLES} more tables differ`);
  return differences.length === 0 ? undefined : `the restored content does not match the fingerprint recorded at backup time: ${differences.join('; ')}`;
}
