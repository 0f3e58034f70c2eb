import type { AppCommands } from '../config/config.js';
import { SnapkeepError, coerceError } from '../errors.js';
import type { Logger } from '../logging/create-logger.js';
import type { SwapReport } from '../queue/job-types.js';
import { formatCommandLine } from './command-line.js';
import { databaseFiles } from './database-files.js';
import { findHolders } from './find-holders.js';
import { MoveLog, type MoveOps, type UndoOutcome } from './move-log.js';
import { runCommand } from './run-command.js';
import { inUse, waitUntilReleased } from './wait-until-released.js';

/** SwapOptions: the live database, the application's commands, and what to call the operation in messages. */
export interface SwapOptions {
  dbPath: string;
  commands: Pick<AppCommands, 'stop' | 'start' | 'env'>;
  logger: Logger;
  operation: 'apply' | 'rollback';
  /** The filesystem calls that move live files (tests inject a failure). */
  ops?: MoveOps;
  releaseTimeoutMs?: number;
}

/** Swapped is what a swap did, without the placed database's facts, which the caller knows. */
export type Swapped = Omit<SwapReport, 'database' | 'durationMs'>;

/**
 * runSwap is the part every apply and rollback shares, around work (the moves): refuse while a
 * process has the database or its -wal/-shm open (no stop command), or run the stop command and
 * wait until none does; make the moves through a MoveLog and flush their directories; run the
 * start command. Any failure once the stop command ran puts every move back, in reverse, starts
 * the application again on its old files, and says what it did.
 */
export async function runSwap(options: SwapOptions, work: (log: MoveLog) => Promise<void>): Promise<Swapped> {
  const { dbPath, commands, logger } = options;
  const files = databaseFiles(dbPath);
  const holders = await findHolders(files);
  if (holders.length > 0 && !commands.stop) {
    throw inUse(dbPath, holders, `Stop the application first, or give --stop-command (APP_STOP_COMMAND for the service) to have ${options.operation} stop it.`);
  }
  const shown = {
    ...(commands.stop ? { stop: formatCommandLine(commands.stop) } : {}),
    ...(commands.start ? { start: formatCommandLine(commands.start) } : {}),
  };
  const run = (argv: string[]): Promise<void> => runCommand(argv, { env: commands.env, logger });
  let stopped = false;
  const fail = async (error: unknown, log: MoveLog): Promise<SnapkeepError> => {
    const undone = await log.undo();
    const restarted = stopped && commands.start ? await run(commands.start).then(() => 'ok', (e: unknown) => coerceError(e).message) : undefined;
    // Not logged here: the job adapter logs a failed job, and the CLI prints it.
    return failureReport(options.operation, error, undone, restarted);
  };

  const log = new MoveLog(options.ops);
  if (commands.stop) {
    if (holders.length > 0) logger.info('stopping the application', { holders });
    await run(commands.stop).catch((error: unknown) => {
      throw new SnapkeepError('command_failed', `the stop command failed, so nothing was changed: ${coerceError(error).message}`);
    });
    stopped = true;
    try {
      await waitUntilReleased(files, options.releaseTimeoutMs);
    } catch (error) {
      throw await fail(error, log);
    }
  }
  try {
    await work(log);
    await log.syncDirectories();
    logger.info(`${options.operation}: files moved`, { moves: log.moves });
    if (commands.start) {
      await run(commands.start).catch((error: unknown) => {
        throw new SnapkeepError('command_failed', `the start command failed: ${coerceError(error).message}`);
      });
    }
  } catch (error) {
    throw await fail(error, log);
  }
  return { moves: log.moves, undo: log.undoCommands(), commands: shown, stopped: holders };
}

/** failureReport says what failed, what was put back, what could not be, and whether the application was started again. */
function failureReport(operation: string, thrown: unknown, undone: UndoOutcome, restarted: string | undefined): SnapkeepError {
  const error = coerceError(thrown);
  const parts = [`${operation} failed: ${error.message.replace(/\.$/, '')}.`];
  if (undone.done.length === 0 && undone.failed.length === 0) parts.push('Nothing had been moved: the live files are as they were.');
  if (undone.done.length > 0) parts.push(`Put back what had moved: ${undone.done.join('; ')}.`);
  if (undone.failed.length > 0) parts.push(`COULD NOT PUT BACK ${undone.failed.length}: with the application stopped, run ${undone.failed.join('; ')}.`);
  else if (undone.done.length > 0) parts.push('The live files are as they were.');
  if (restarted === 'ok') parts.push('Ran the start command again.');
  else if (restarted !== undefined) parts.push(`The start command failed again: ${restarted}`);
  const code = error instanceof SnapkeepError && undone.done.length === 0 && undone.failed.length === 0 ? error.code : 'apply_failed';
  return new SnapkeepError(code, parts.join(' '), { cause: error });
}
