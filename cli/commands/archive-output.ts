import type { RestoreResult } from '../../src/queue/job-types.js';
import { STREAM_NOT_MOVED } from '../../src/archive/plan-moves.js';
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
  // Streams ride in `skipped` (they have no path to move to): shown apart, with how to feed them back.
  const streams = archive.skipped.filter((s) => s.reason === STREAM_NOT_MOVED);
  const skipped = archive.skipped.filter((s) => s.reason !== STREAM_NOT_MOVED);
  if (streams.length > 0) {
    out('');
    out(`streams (${streams.length}): pipe each into its source's restoreCommand (\`backup apply\` does), e.g. \`cmd < FILE\`:`);
    for (const s of streams) out(`  ${s.path}`);
  }
  if (skipped.length > 0) {
    out('');
    out(`left out of the backup (${skipped.length}):`);
    for (const s of skipped.slice(0, 20)) out(`  ${s.path}  (${s.reason})`);
    if (skipped.length > 20) out(`  … and ${skipped.length - 20} more (see manifest.json)`);
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
