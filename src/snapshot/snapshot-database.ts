import { mkdir, open, rm, stat } from 'node:fs/promises';
import { SnapkeepError } from '../errors.js';
import type { ContentFingerprint } from './content-fingerprint.js';
import { runSqliteThread, SqliteThreadError } from './run-sqlite-thread.js';
import { temporaryPath } from './temporary-files.js';

export { removeStaleTemporaries } from './temporary-files.js';

/** SnapshotOptions tunes how long a snapshot waits for the application's locks. */
export interface SnapshotOptions {
  /**
   * How long SQLite retries while a writer holds a lock the snapshot needs (default 30 s). In
   * rollback-journal mode a writer can hold its lock for a whole large transaction.
   */
  busyTimeoutMs?: number;
}

/**
 * SnapshotResult is the snapshot file (mode 0600, owned by the caller, who must remove it), its
 * size, the live database's journal mode (`wal`, `delete`, …) and the snapshot's content fingerprint.
 */
export interface SnapshotResult {
  path: string;
  size: number;
  journalMode: string;
  fingerprint: ContentFingerprint;
}

const DEFAULT_BUSY_TIMEOUT_MS = 30_000;

/**
 * snapshotDatabase writes a consistent copy of the SQLite database at dbPath into a new file under
 * tempDir with `VACUUM INTO`, on a read-only connection in a worker thread, while the application
 * keeps reading and writing. On failure nothing is left in tempDir.
 */
export async function snapshotDatabase(dbPath: string, tempDir: string, options: SnapshotOptions = {}): Promise<SnapshotResult> {
  await assertDatabaseExists(dbPath);
  await mkdir(tempDir, { recursive: true, mode: 0o700 });
  const outputPath = temporaryPath(tempDir, 'snapshot', '.sqlite.tmp');
  try {
    // Create the target empty and 0600 before SQLite opens it: VACUUM INTO accepts an empty file
    // and keeps its mode, so the copy is never readable by others, whatever the umask.
    await (await open(outputPath, 'wx', 0o600)).close();
    const [journalMode = 'delete', fingerprintJson = '{}'] = await runSqliteThread({
      kind: 'vacuum-into',
      dbPath,
      outputPath,
      busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
    });
    const { size } = await stat(outputPath);
    return { path: outputPath, size, journalMode, fingerprint: JSON.parse(fingerprintJson) as ContentFingerprint };
  } catch (error) {
    await rm(outputPath, { force: true });
    throw snapshotError(dbPath, error);
  }
}

async function assertDatabaseExists(dbPath: string): Promise<void> {
  const info = await stat(dbPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
    throw snapshotError(dbPath, error);
  });
  if (!info) throw new SnapkeepError('snapshot_failed', `database not found: ${dbPath}`);
  if (!info.isFile()) throw new SnapkeepError('snapshot_failed', `database is not a file: ${dbPath}`);
}

function snapshotError(dbPath: string, error: unknown): SnapkeepError {
  if (error instanceof SnapkeepError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof SqliteThreadError ? error.sqliteCode : ((error as NodeJS.ErrnoException).code ?? null);
  if (code === 'ENOSPC' || code?.startsWith('SQLITE_FULL')) {
    return new SnapkeepError('no_space', `snapshot of ${dbPath} failed: no space left for the snapshot (${message})`, { cause: error });
  }
  // Another connection's lock outlasting the busy timeout passes; a crashed thread may not recur.
  const retryable = code === null || code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
  return new SnapkeepError('snapshot_failed', `snapshot of ${dbPath} failed: ${message}`, { retryable, cause: error });
}

/** readFingerprint reads a database file's content fingerprint in a worker thread (a restore drill's check). */
export async function readFingerprint(path: string): Promise<ContentFingerprint> {
  const [json = '{}'] = await runSqliteThread({ kind: 'fingerprint', path });
  return JSON.parse(json) as ContentFingerprint;
}
