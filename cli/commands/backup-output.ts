import type { BackupEntry } from '../../src/backups/list-backups.js';
import type { PruneResult, RestoreResult } from '../../src/queue/job-types.js';

const out = (line = ''): void => { process.stdout.write(`${line}\n`); };

/** humanSize prints bytes as B, KiB, MiB or GiB. */
export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** printBackupTable prints backups as an aligned table, newest first. */
export function printBackupTable(backups: BackupEntry[]): void {
  if (backups.length === 0) { out('no backups'); return; }
  const rows = [['ID', 'TIME (UTC)', 'SIZE', 'KIND', 'ENCRYPTION'],
    ...backups.map((b) => [b.id, b.createdAt.replace('.000Z', 'Z'), humanSize(b.size), b.kind, b.encryption])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) out(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}

/**
 * printSwapSteps tells the operator how to put a verified restore in place. The database is the one
 * the restore was written beside (`{DB_PATH}.restore.{id}`): the worker's DB_PATH with --queue,
 * which this process may not have, or have set to another path.
 */
export function printSwapSteps(result: RestoreResult): void {
  const suffix = `.restore.${result.backupId}`;
  const dbPath = result.path.endsWith(suffix) ? result.path.slice(0, -suffix.length) : result.path;
  out(`restored and verified: ${result.path} (${humanSize(result.size)}, integrity_check ok)`);
  out('');
  out(`To put it in place: snapkeep backup apply --id ${result.backupId} [--stop-command CMD] [--start-command CMD]`);
  out('(it checks that nothing has the database open, keeps the old files aside and can undo it), or by hand:');
  out('  1. stop the application that uses the database');
  out(`  2. chown --reference=${shellQuote(dbPath)} ${shellQuote(result.path)} && chmod --reference=${shellQuote(dbPath)} ${shellQuote(result.path)}`);
  out(`     mv ${shellQuote(dbPath)} ${shellQuote(`${dbPath}.old`)} && mv ${shellQuote(result.path)} ${shellQuote(dbPath)}`);
  // SQLite pairs "X-wal" with "X": a stale -wal left under the live name would be replayed into the
  // restored file, and one renamed any other way than "X.old-wal" is lost to the old database.
  out(`     if the old database left a -wal or -shm file, move it along with the database before starting:`);
  out(`     mv ${shellQuote(`${dbPath}-wal`)} ${shellQuote(`${dbPath}.old-wal`)}; mv ${shellQuote(`${dbPath}-shm`)} ${shellQuote(`${dbPath}.old-shm`)}`);
  out('  3. start the application again; keep the .old file until you are sure');
}

/**
 * printPruneResult lists what was kept, each with the rules that kept it, and what was or would be
 * deleted. Why nothing was deleted comes last, where the eye lands after a long list.
 */
export function printPruneResult(result: PruneResult): void {
  out(`kept (${result.kept.length}):`);
  for (const id of result.kept) out(`  ${id}  ${(result.reasons[id] ?? []).join(', ')}`);
  out(`${result.dryRun ? 'would delete' : 'deleted'} (${result.deleted.length}):`);
  for (const id of result.deleted) out(`  ${id}`);
  if (result.skippedReason) out(result.skippedReason);
  else if (result.dryRun) out('dry run: nothing was deleted');
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
