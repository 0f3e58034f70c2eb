import { setTimeout as sleep } from 'node:timers/promises';
import { SnapkeepError } from '../errors.js';
import { describeHolders, findHolders } from './find-holders.js';

/** RELEASE_TIMEOUT_MS is how long an apply waits, after the stop command, for every process to close the database. */
export const RELEASE_TIMEOUT_MS = 60_000;
const POLL_MS = 250;

/** inUse is the refusal while processes hold the database: it names them and says that nothing changed. */
export function inUse(dbPath: string, holders: Parameters<typeof describeHolders>[0], hint: string): SnapkeepError {
  return new SnapkeepError('database_in_use', `${dbPath} is open by ${describeHolders(holders)}; nothing was changed. ${hint}`);
}

/**
 * waitUntilReleased polls until no process has any of files open (files[0] is the database), or
 * throws `database_in_use` naming the processes still holding them after timeoutMs.
 */
export async function waitUntilReleased(files: readonly string[], timeoutMs = RELEASE_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const holders = await findHolders(files);
    if (holders.length === 0) return;
    if (Date.now() >= deadline) {
      throw inUse(files[0]!, holders, `The stop command ran, but after ${timeoutMs / 1000} s these still hold it.`);
    }
    await sleep(POLL_MS);
  }
}
