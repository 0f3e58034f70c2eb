import type { RollbackResult } from '../../src/apply/rollback-database.js';
import type { ApplyResult, SwapReport } from '../../src/queue/job-types.js';

const out = (line = ''): void => { process.stdout.write(`${line}\n`); };

/** printApplied tells the operator what an apply moved where, and how to undo it. */
export function printApplied(result: ApplyResult): void {
  out(`applied backup ${result.backupId} (${result.kind}) in ${(result.durationMs / 1000).toFixed(1)} s`);
  out(result.restored ? `  restored and verified first: ${result.source}` : `  used the verified restore ${result.source} (integrity_check ok again)`);
  printSwap(result);
  out('');
  out('To undo: snapkeep backup rollback  (puts back the newest pre-apply copy of the database)');
  if (result.kind === 'archive') out('  rollback puts back the database only; for the other paths use the lines below.');
  printUndoLines(result);
}

/** printRolledBack tells the operator which pre-apply copy is back in place, and how to undo that. */
export function printRolledBack(result: RollbackResult): void {
  out(`rolled back to ${result.restoredFrom} in ${(result.durationMs / 1000).toFixed(1)} s`);
  printSwap(result);
  out('');
  out('To undo:');
  printUndoLines(result);
}

function printSwap(report: SwapReport): void {
  if (report.commands.stop) {
    const who = report.stopped.length > 0 ? report.stopped.map((h) => `pid ${h.pid} (${h.command})`).join(', ') : 'no process had the database open';
    out(`  stopped the application: ${report.commands.stop}  [${who}]`);
  }
  for (const move of report.moves) {
    const how = move.role === 'aside' ? 'kept aside' : move.copied ? 'copied into place' : 'put into place';
    out(`  ${how}: ${move.from} -> ${move.to}`);
  }
  const db = report.database;
  out(`  ${db.path}: uid ${db.uid}, gid ${db.gid}, mode ${db.mode}, journal mode ${db.journalMode}`);
  if (report.commands.start) out(`  started the application: ${report.commands.start}`);
}

function printUndoLines(report: SwapReport): void {
  out('  by hand, with the application stopped, in this order:');
  for (const line of report.undo) out(`    ${line}`);
}
