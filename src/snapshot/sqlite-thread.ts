/**
 * sqlite-thread is the body of the worker thread that runs SQLite calls which can take minutes
 * (VACUUM INTO, integrity_check): better-sqlite3 is synchronous, and on the main thread it would
 * stall BullMQ lock renewals and the HTTP API for the whole run.
 */
import Database from 'better-sqlite3';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fingerprintOf } from './content-fingerprint.js';

/** VacuumIntoTask copies a live database into an empty file as one consistent read transaction. */
export interface VacuumIntoTask {
  kind: 'vacuum-into';
  dbPath: string;
  outputPath: string;
  busyTimeoutMs: number;
}

/** IntegrityCheckTask runs PRAGMA integrity_check on a file that nothing else uses. */
export interface IntegrityCheckTask {
  kind: 'integrity-check';
  path: string;
}

/** FingerprintTask reads a database file's content fingerprint (a snapshot or a restore, nothing live). */
export interface FingerprintTask {
  kind: 'fingerprint';
  path: string;
}

/** SqliteTask is one job for the thread, sent as its workerData. */
export type SqliteTask = VacuumIntoTask | IntegrityCheckTask | FingerprintTask;

/** SqliteThreadReply is the single message the thread posts back before it exits. */
export type SqliteThreadReply =
  | { ok: true; lines: string[] }
  | { ok: false; message: string; code: string | null };

/**
 * setSmallCache gives the connection SQLite's stock 2 MB page cache. better-sqlite3 builds SQLite
 * with 16 MB (SQLITE_DEFAULT_CACHE_SIZE=-16000), which VACUUM INTO also gives the file it writes:
 * 32 MB of peak memory that bought no speed on a one-pass copy or check (the sqlite3 shell, with
 * 2 MB, is as fast).
 */
function setSmallCache(db: Database.Database): void {
  db.pragma('cache_size = -2000');
}

/**
 * vacuumInto copies the live database, then reads the copy's fingerprint. It answers two lines:
 * the live database's journal mode (a restore puts it back: the copy itself is always in
 * rollback-journal mode) and the copy's fingerprint as JSON.
 */
function vacuumInto(task: VacuumIntoTask): string[] {
  // Read-only: the snapshot must never write to, checkpoint or change the live database.
  const db = new Database(task.dbPath, { readonly: true, fileMustExist: true, timeout: task.busyTimeoutMs });
  let journalMode: string;
  try {
    setSmallCache(db);
    journalMode = String(db.pragma('journal_mode', { simple: true }));
    db.prepare('VACUUM INTO ?').run(task.outputPath);
  } finally {
    db.close();
  }
  return [journalMode, ...fingerprint({ kind: 'fingerprint', path: task.outputPath })];
}

function fingerprint(task: FingerprintTask): string[] {
  const db = new Database(task.path, { readonly: true, fileMustExist: true });
  try {
    setSmallCache(db);
    return [JSON.stringify(fingerprintOf(db))];
  } finally {
    db.close();
  }
}

function integrityCheck(task: IntegrityCheckTask): string[] {
  const db = new Database(task.path, { readonly: true, fileMustExist: true });
  try {
    setSmallCache(db);
    return db.prepare('PRAGMA integrity_check').pluck().all().map(String);
  } finally {
    db.close();
  }
}

function run(task: SqliteTask): SqliteThreadReply {
  try {
    const lines = task.kind === 'vacuum-into' ? vacuumInto(task) : task.kind === 'fingerprint' ? fingerprint(task) : integrityCheck(task);
    return { ok: true, lines };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : null;
    return { ok: false, message, code };
  }
}

if (!isMainThread && parentPort) {
  parentPort.postMessage(run(workerData as SqliteTask));
}
