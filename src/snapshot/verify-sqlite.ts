import { access, open, rm } from 'node:fs/promises';
import { SnapkeepError } from '../errors.js';
import { runSqliteThread, SqliteThreadError } from './run-sqlite-thread.js';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const REPORTED_LINES = 5;

/**
 * verifySqliteFile checks that the file at path is a SQLite database whose `PRAGMA
 * integrity_check` answers exactly `ok`, running the check in a worker thread on a read-only
 * connection. It throws a non-retryable SnapkeepError ('not_sqlite' or 'integrity_failed').
 */
export async function verifySqliteFile(path: string): Promise<void> {
  if (!(await hasSqliteHeader(path))) throw new SnapkeepError('not_sqlite', 'not a SQLite database');

  // A read-only connection to a WAL-mode file creates -wal and -shm beside it; remove only ours.
  const sidecars = [`${path}-wal`, `${path}-shm`];
  const preexisting = await Promise.all(sidecars.map((p) => access(p).then(() => true, () => false)));
  let lines: string[];
  try {
    lines = await runSqliteThread({ kind: 'integrity-check', path });
  } catch (error) {
    throw checkError(error);
  } finally {
    await Promise.all(sidecars.map((p, i) => (preexisting[i] ? undefined : rm(p, { force: true }))));
  }
  if (lines.length !== 1 || lines[0] !== 'ok') {
    throw new SnapkeepError('integrity_failed', `integrity check failed: ${lines.slice(0, REPORTED_LINES).join('; ')}`);
  }
}

async function hasSqliteHeader(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.equals(SQLITE_HEADER);
  } finally {
    await file.close();
  }
}

function checkError(error: unknown): SnapkeepError {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof SqliteThreadError ? error.sqliteCode : null;
  if (code?.startsWith('SQLITE_NOTADB')) return new SnapkeepError('not_sqlite', 'not a SQLite database', { cause: error });
  // SQLite may refuse to even read a badly damaged file: that is a failed integrity check too.
  if (code?.startsWith('SQLITE_CORRUPT')) {
    return new SnapkeepError('integrity_failed', `integrity check failed: ${message}`, { cause: error });
  }
  return new SnapkeepError('integrity_failed', `integrity check could not run: ${message}`, { retryable: code === null, cause: error });
}
