import { lstat, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SnapkeepError } from '../errors.js';
import type { AppliedMove } from '../queue/job-types.js';
import { syncPath } from '../sync-path.js';
import { shellQuote } from './command-line.js';
import { copyAcross } from './copy-across.js';

/** MoveOps is the one filesystem call a move log makes to move live files: tests put a failing one in its place. */
export interface MoveOps {
  rename(from: string, to: string): Promise<void>;
}

/** fileSystemMoves is the real thing. */
export const fileSystemMoves: MoveOps = { rename };

/** UndoOutcome is what putting things back did: one line per move, and the moves that could not be undone. */
export interface UndoOutcome {
  done: string[];
  failed: string[];
}

/**
 * MoveLog makes the moves of an apply or rollback and remembers each one that happened, so that a
 * failure can undo them in reverse (a migration tool's down steps) and a success can print how to
 * undo them by hand. A move never replaces anything: its destination must not exist.
 */
export class MoveLog {
  readonly moves: AppliedMove[] = [];

  constructor(private readonly ops: MoveOps = fileSystemMoves) {}

  /** move renames from to to (copies it, across filesystems) and records it. */
  async move(from: string, to: string, role: AppliedMove['role']): Promise<void> {
    if (await exists(to)) throw new SnapkeepError('apply_failed', `${to} already exists; nothing is ever replaced`);
    try {
      await this.ops.rename(from, to);
      this.moves.push({ from, to, role });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyAcross(from, to);
      this.moves.push({ from, to, role, copied: true });
    }
  }

  /** moveIfPresent is move for a path that may not exist (a database's sidecars); false when there was nothing. */
  async moveIfPresent(from: string, to: string, role: AppliedMove['role']): Promise<boolean> {
    if (!(await exists(from))) return false;
    await this.move(from, to, role);
    return true;
  }

  /** undo puts back every recorded move, newest first, and goes on past a failure to put back the rest. */
  async undo(): Promise<UndoOutcome> {
    const outcome: UndoOutcome = { done: [], failed: [] };
    for (const move of [...this.moves].reverse()) {
      try {
        if (move.copied) await rm(move.to, { recursive: true, force: true });
        else if (await exists(move.from)) throw new Error(`${move.from} exists again`);
        else await this.ops.rename(move.to, move.from);
        outcome.done.push(move.copied ? `removed the copy ${move.to}` : `moved ${move.to} back to ${move.from}`);
      } catch (error) {
        outcome.failed.push(`${undoCommand(move)}  (${(error as Error).message})`);
      }
    }
    await this.syncDirectories().catch(() => undefined);
    return outcome;
  }

  /** syncDirectories flushes every directory a move touched, so the renames survive a power cut. */
  async syncDirectories(): Promise<void> {
    const dirs = new Set(this.moves.flatMap((m) => [dirname(m.from), dirname(m.to)]));
    for (const dir of dirs) await syncPath(dir);
  }

  /** undoCommands are shell lines that undo every move by hand, in the order to run them. */
  undoCommands(): string[] {
    return [...this.moves].reverse().map(undoCommand);
  }
}

const undoCommand = (move: AppliedMove): string =>
  move.copied ? `rm -r -- ${shellQuote(move.to)}` : `mv -T -- ${shellQuote(move.to)} ${shellQuote(move.from)}`;

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}
