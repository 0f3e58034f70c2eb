import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const betterSqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');

// Every transaction adds the same rows to `a` and `b`: a torn snapshot would show different counts.
const WRITER_SCRIPT = `
const Database = require(${JSON.stringify(betterSqlitePath)});
const [dbPath, journalMode, pauseMs] = process.argv.slice(2);
const db = new Database(dbPath, { timeout: 30000 });
db.pragma('journal_mode = ' + journalMode);
db.exec('CREATE TABLE a (n INTEGER PRIMARY KEY, body BLOB); CREATE TABLE b (n INTEGER PRIMARY KEY, body BLOB)');
const insertA = db.prepare('INSERT INTO a VALUES (?, randomblob(200))');
const insertB = db.prepare('INSERT INTO b VALUES (?, randomblob(200))');
let n = 0;
const write = db.transaction((rows) => { for (let i = 0; i < rows; i++) { n++; insertA.run(n); insertB.run(n); } });
write(20000);
process.stdout.write('ready\\n');
const pause = Number(pauseMs);
const loop = () => { write(10); if (pause > 0) setTimeout(loop, pause); else setImmediate(loop); };
loop();
`;

/** BusyWriter is a child process committing small transactions to a database as fast as it can. */
export interface BusyWriter {
  child: ChildProcess;
  /** Rows in `a` now, as a reader of the live database sees them. */
  committedRows(): number;
  /** SIGKILL and wait for exit. */
  stop(): Promise<void>;
}

/**
 * startBusyWriter creates `a` and `b` in a new database at dbPath (journal mode WAL or DELETE),
 * fills them with 20,000 rows each, and keeps adding rows to both in the same transactions, with
 * pauseMs between transactions (0: none at all, which can starve a rollback-journal reader for seconds).
 */
export async function startBusyWriter(dbPath: string, journalMode: 'WAL' | 'DELETE', scriptPath: string, pauseMs = 0): Promise<BusyWriter> {
  writeFileSync(scriptPath, WRITER_SCRIPT);
  const child = spawn(process.execPath, [scriptPath, dbPath, journalMode, String(pauseMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [ready] = (await once(child.stdout!, 'data')) as [Buffer];
  if (!ready.toString().includes('ready')) throw new Error(`writer did not start: ${ready.toString()}`);
  return {
    child,
    committedRows() {
      const db = new Database(dbPath, { readonly: true, timeout: 30_000 });
      try {
        return db.prepare('SELECT count(*) FROM a').pluck().get() as number;
      } finally {
        db.close();
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** tableCounts reads the row counts of `a` and `b` in one read transaction. */
export function tableCounts(path: string): { a: number; b: number } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.transaction(() => ({
      a: db.prepare('SELECT count(*) FROM a').pluck().get() as number,
      b: db.prepare('SELECT count(*) FROM b').pluck().get() as number,
    }))();
  } finally {
    db.close();
  }
}
