import type { ContentFingerprint } from '../snapshot/content-fingerprint.js';

/**
 * BackupShape is what the guardrail compares of a backup: its stored size (comparable only
 * between backups of one format: `snapkeep-format` in its metadata) and its content fingerprint,
 * when one was recorded and authenticated (a digest alone tells nothing about tables).
 */
export interface BackupShape {
  id: string;
  size: number;
  format?: string;
  fingerprint?: ContentFingerprint | { digest: string };
}

/**
 * detectAnomaly says why `current` looks like a database that was emptied or truncated since
 * `previous`, or [] when it does not: the backup shrank by more than shrinkPercent (same format
 * only: compression or an archive changes the size for other reasons), a table lost more than that
 * share of its rows, or a table disappeared. shrinkPercent 0 turns it off. Pure, for tests.
 */
export function detectAnomaly(previous: BackupShape, current: BackupShape, shrinkPercent: number): string[] {
  if (shrinkPercent <= 0) return [];
  const reasons: string[] = [];
  const lost = (before: number, after: number): number => ((before - after) / before) * 100;
  if (previous.format !== undefined && previous.format === current.format && previous.size > 0 && lost(previous.size, current.size) > shrinkPercent) {
    reasons.push(`the backup shrank by ${Math.round(lost(previous.size, current.size))}% since ${previous.id} (${previous.size} → ${current.size} bytes)`);
  }
  const before = previous.fingerprint && 'tables' in previous.fingerprint ? previous.fingerprint.tables : undefined;
  const after = current.fingerprint && 'tables' in current.fingerprint ? current.fingerprint.tables : undefined;
  if (before && after) {
    for (const [table, rows] of Object.entries(before).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const now = after[table];
      if (now === undefined) reasons.push(`table ${table} disappeared (it had ${rows} rows in ${previous.id})`);
      else if (rows > 0 && lost(rows, now) > shrinkPercent) reasons.push(`table ${table} lost ${Math.round(lost(rows, now))}% of its rows since ${previous.id} (${rows} → ${now})`);
    }
  }
  return reasons;
}
