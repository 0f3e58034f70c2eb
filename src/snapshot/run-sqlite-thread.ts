import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { reapplyV8Flags } from '../v8-flags.js';
import type { SqliteTask, SqliteThreadReply } from './sqlite-thread.js';

/** SqliteThreadError is a failure reported by SQLite inside the thread, with its result code. */
export class SqliteThreadError extends Error {
  /** better-sqlite3's code, e.g. SQLITE_BUSY or SQLITE_CORRUPT; null when the thread itself died. */
  readonly sqliteCode: string | null;

  constructor(message: string, sqliteCode: string | null) {
    super(message);
    this.name = 'SqliteThreadError';
    this.sqliteCode = sqliteCode;
  }
}

/**
 * runSqliteThread runs one SQLite task in a fresh worker thread and resolves with the lines it
 * returned; a SQLite error rejects with a SqliteThreadError carrying the SQLite code.
 */
export function runSqliteThread(task: SqliteTask): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const worker = startThread(task);
    // The thread's start reset V8's flags to the command line's; the CLI sets one at run time.
    worker.once('online', reapplyV8Flags);
    let settled = false;
    worker.once('message', (reply: SqliteThreadReply) => {
      settled = true;
      if (reply.ok) resolve(reply.lines);
      else reject(new SqliteThreadError(reply.message, reply.code));
    });
    worker.once('error', (error) => {
      if (settled) return;
      settled = true;
      reject(new SqliteThreadError(`sqlite thread failed: ${error.message}`, null));
    });
    worker.once('exit', (exitCode) => {
      if (settled) return;
      settled = true;
      reject(new SqliteThreadError(`sqlite thread exited with code ${exitCode} before answering`, null));
    });
  });
}

function startThread(task: SqliteTask): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./sqlite-thread.js', here), { workerData: task });
  // Running from TypeScript source (tsx, vitest): no .js sibling exists, and on Node 20 tsx does
  // not install its loader in worker threads by itself, so the thread loads the .ts through tsx's API.
  const thread = new URL('./sqlite-thread.ts', here).href;
  const tsxApi = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => tsx.tsImport(${JSON.stringify(thread)}, ${JSON.stringify(thread)}));`;
  return new Worker(bootstrap, { eval: true, workerData: task });
}
