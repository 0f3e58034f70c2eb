import type { RestoreResult } from '../../src/queue/job-types.js';
import { humanSize } from './backup-output.js';

const out = (line = ''): void => { process.stdout.write(`${line}\n`); };

/**
 * printArchiveRestore tells the operator what an archive restore produced and how to put it in
 * place, in the safe order: keys and vault, then identity and config, then data and the database.
 */
export function printArchiveRestore(result: RestoreResult): void {
  const archive = result.archive!;
  out(`restored and verified: ${result.path} (${archive.files} files, ${humanSize(result.size)}; every file matches the manifest, integrity_check ok)`);
  if (result.origin === 'unverified') {
    out('WARNING: the origin of this archive could NOT be verified (no master key here, or no authenticator):');
    out('  anyone holding the public key or passphrase could have made it. Check its contents before putting anything in place.');
  } else {
    out('origin: verified with the master key (made by this installation)');
  }
  if (archive.skipped.length > 0) {
    out('');
    out(`left out of the backup (${archive.skipped.length}):`);
    for (const s of archive.skipped.slice(0, 20)) out(`  ${s.path}  (${s.reason})`);
    if (archive.skipped.length > 20) out(`  … and ${archive.skipped.length - 20} more (see manifest.json)`);
  }
  out('');
  out(`Nothing live was touched. To put it in place: snapkeep backup apply --id ${result.backupId} [--stop-command CMD] [--start-command CMD]`);
  out('(it restores afresh, keeps every replaced path aside and can undo it), or by hand: stop the application, then in this order:');
  let group = '';
  let step = 0;
  for (const move of archive.moves) {
    if (move.group !== group) {
      group = move.group;
      out(`  ${group}:`);
    }
    step += 1;
    out(`    ${step}. move ${shellQuote(move.from)} to ${shellQuote(move.to)}  (keep the old one aside, e.g. ${shellQuote(`${move.to}.old`)})`);
  }
  out('  (with the database, also move away the -wal and -shm files left beside the old one)');
  out('  then start the application again; keep the .old copies until you are sure.');
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
