import { lstat } from 'node:fs/promises';
import { sep } from 'node:path';
import { feedStream, type StreamFeed } from '../archive/feed-stream.js';
import { SnapkeepError } from '../errors.js';
import type { RestoredArchive, SwapReport } from '../queue/job-types.js';
import { adoptLiveOwners } from './adopt-live-owners.js';
import { asidePath, chooseStamp } from './aside-names.js';
import { databaseFiles, moveDatabase } from './database-files.js';
import { prepareRestoredDatabase } from './prepare-restored-database.js';
import { runSwap, type SwapOptions } from './swap-session.js';

/** ApplyArchiveOptions: the swap's options and the verified restore's moves, in the safe order, the database's to DB_PATH. */
export interface ApplyArchiveOptions extends Omit<SwapOptions, 'operation'> {
  moves: RestoredArchive['moves'];
  /** The journal mode to give the database (undefined: the live file's). */
  journalMode: string | undefined;
  /** Restored streams to pipe into their restoreCommand once every move is made (streamFeeds). */
  streams?: readonly StreamFeed[];
  now?: Date;
}

/**
 * applyArchive puts a verified archive restore in place, move by move in the order given (keys
 * and vault, identity and config, data, the database last), each destination taken from the
 * authenticated manifest only. Each live path it replaces is kept aside as `{path}.pre-apply.{time}`
 * (the database with its sidecars); restored paths take the owners of the live ones and keep the
 * modes the backup recorded. Everything is checked and prepared before the application stops; a
 * failure midway puts back every path already moved. Streams are fed to their restoreCommand
 * last, with the application still stopped: a command's effect cannot be undone, so it runs only
 * once every move has succeeded; one that fails puts the moves back and names the stream.
 */
export async function applyArchive(options: ApplyArchiveOptions): Promise<Omit<SwapReport, 'durationMs'>> {
  const { dbPath, moves } = options;
  await checkMoves(moves, dbPath, options.streams ?? []);
  const databaseMove = moves.find((m) => m.to === dbPath);
  if (!databaseMove) throw new SnapkeepError('apply_refused', `the archive's moves do not put a database at ${dbPath}`);
  for (const move of moves) if (move !== databaseMove) await adoptLiveOwners(move.from, move.to);
  const database = await prepareRestoredDatabase(databaseMove.from, dbPath, options.journalMode);
  const asideNames = (stamp: string): string[] =>
    moves.flatMap((m) => (m === databaseMove ? databaseFiles(asidePath(m.to, 'pre-apply', stamp)) : [asidePath(m.to, 'pre-apply', stamp)]));

  const swapped = await runSwap({ ...options, operation: 'apply' }, async (log) => {
    const stamp = await chooseStamp(options.now ?? new Date(), asideNames);
    for (const move of moves) {
      const aside = asidePath(move.to, 'pre-apply', stamp);
      if (move === databaseMove) {
        await moveDatabase(log, move.to, aside, 'aside');
        await moveDatabase(log, move.from, move.to, 'into place');
      } else {
        await log.moveIfPresent(move.to, aside, 'aside');
        await log.move(move.from, move.to, 'into place');
      }
    }
    for (const stream of options.streams ?? []) {
      options.logger.info('feeding a stream to its restoreCommand', { stream: stream.name });
      await feedStream(stream, { env: options.commands.env });
    }
  });
  return { ...swapped, database };
}

/**
 * checkMoves refuses, before anything changes, moves that could not all be made: a restored path
 * or stream missing, or one destination inside another (replacing the outer one would carry the
 * inner one away). The database may lie inside an included directory: the live one leaves with
 * that directory (kept aside with it) and the restored one is put in last.
 */
async function checkMoves(moves: ApplyArchiveOptions['moves'], dbPath: string, streams: readonly StreamFeed[]): Promise<void> {
  for (const stream of streams) {
    if (!(await lstat(stream.from).then((info) => info.isFile(), () => false))) throw new SnapkeepError('apply_refused', `stream ${JSON.stringify(stream.name)}: ${stream.from} is missing from the restore`);
  }
  for (const move of moves) {
    if (!(await lstat(move.from).then(() => true, () => false))) throw new SnapkeepError('apply_refused', `${move.from} is missing from the restore`);
    const outer = move.to === dbPath ? undefined : moves.find((other) => other !== move && move.to.startsWith(`${other.to}${sep}`));
    if (outer) throw new SnapkeepError('apply_refused', `${move.to} lies inside ${outer.to}, which the same apply replaces: apply these by hand`);
  }
}
