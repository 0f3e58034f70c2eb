import { access, open, rm } from 'node:fs/promises';
import { SnapkeepError } from '../errors.js';
import { runSqliteThread, SqliteThreadError } from './run-sqlite-thread.js';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const REPORTED_LINES = 5;
/** SQLITE_HEADER_LENGTH is the size of the header that opens every SQLite database file. */
export const SQLITE_HEADER_LENGTH = 100;
// Fewer matching magic bytes than this could be chance (wrong key, foreign data): 2^-64 is not.
const MIN_MAGIC_SEEN = 8;

/** SqlitePrefix is what the first bytes of a file say about it (see readSqlitePrefix). */
export type SqlitePrefix =
  | { kind: 'foreign' }
  /** SQLite's magic, but not the whole 100-byte header: the file is cut short. */
  | { kind: 'partial' }
  /** A full header: expectedSize is the file size it promises, null when the header does not say. */
  | { kind: 'header'; pageSize: number; expectedSize: number | null };

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

/**
 * readSqlitePrefix reads the first bytes of a would-be SQLite file (up to 100). It is a diagnosis
 * of unverified bytes, used to say why a restore failed, never to accept one.
 */
export function readSqlitePrefix(head: Buffer): SqlitePrefix {
  const magicSeen = Math.min(head.length, SQLITE_HEADER.length);
  if (magicSeen < MIN_MAGIC_SEEN || !head.subarray(0, magicSeen).equals(SQLITE_HEADER.subarray(0, magicSeen))) return { kind: 'foreign' };
  if (head.length < SQLITE_HEADER_LENGTH) return { kind: 'partial' };
  const rawPageSize = head.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = head.readUInt32BE(28);
  // The file format's rule: the in-header page count holds only when "version-valid-for" equals the change counter.
  const countValid = pages > 0 && head.readUInt32BE(92) === head.readUInt32BE(24);
  return { kind: 'header', pageSize, expectedSize: countValid ? pages * pageSize : null };
}

/**
 * inWalMode says whether a SQLite file's header puts it in WAL mode (file format versions 2 at
 * offsets 18 and 19). A read-only connection to such a file makes -wal and -shm beside it, and
 * verifySqliteFile removes them after, so such a file must be read by one connection at a time.
 */
export async function inWalMode(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(20);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return bytesRead === head.length && (head[18] === 2 || head[19] === 2);
  } finally {
    await file.close();
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
