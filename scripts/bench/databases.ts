/**
 * Benchmark databases, generated with SQLite's own random() in large transactions and reused when a
 * finished one of the right size is already in the work directory:
 *
 *   - 'random' (the default): random payloads (incompressible, like most real data once encrypted)
 *     in a table with an index on a random text key;
 *   - 'text': compressible rows (issue 17): text columns (an e-mail-like address, a status word, a
 *     path, a random 16-hex-digit request id, a message cut from a fixed English text at a random
 *     place and length plus a random 128-hex-digit token) with an index on the address; `zstd -3`
 *     makes it about 4.8 times smaller.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

// user_version of a finished benchmark database: a file cut short by an interrupted run is never reused.
const FINISHED_MARK = 0x5b_e7_c4;
const FINISHED_MARK_TEXT = 0x5b_e7_c5;
const ROWS_PER_BATCH = 20_000;
// Payloads of 500..3,499 bytes, about 2 KB on average: several rows per 4 KiB page, some overflow.
const PAYLOAD_SQL = 'randomblob(500 + abs(random() % 3000))';

/** 'random': incompressible blobs; 'text': compressible text columns (see the top of this file). */
export type DatabaseKind = 'random' | 'text';

// The message column's source: rows take a random slice of it, so the file repeats itself at the
// scale zstd's window sees, as logs, comments and descriptions do.
const TEXT = ('The backup of the service database ran at the scheduled time and finished without errors. '
  + 'A user asked to restore the previous version of the report after the import replaced several rows. '
  + 'Requests to the payments endpoint were retried because the upstream provider answered with a timeout. '
  + 'The worker picked up the job from the queue, read the configuration and wrote the result to storage. '
  + 'Customer reported that the invoice total did not match the order lines shown on the confirmation page. '
  + 'Scheduled maintenance moved the replica to a new host; no data was lost and clients reconnected. '
  + 'The nightly export contains every order, its items, the shipping address and the payment status. ').repeat(2);

const TEXT_INSERT = `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
  INSERT INTO events (email, status, path, created, request_id, message)
  SELECT 'user' || abs(random() % 200000) || '@' || (CASE abs(random() % 4) WHEN 0 THEN 'example.com' WHEN 1 THEN 'mail.example.org' WHEN 2 THEN 'corp.example.net' ELSE 'shop.example' END),
    (CASE abs(random() % 5) WHEN 0 THEN 'pending' WHEN 1 THEN 'completed' WHEN 2 THEN 'failed' WHEN 3 THEN 'refunded' ELSE 'completed' END),
    '/api/v1/' || (CASE abs(random() % 3) WHEN 0 THEN 'orders' WHEN 1 THEN 'invoices' ELSE 'customers' END) || '/' || abs(random() % 1000000),
    1700000000 + abs(random() % 60000000), lower(hex(randomblob(8))),
    substr('${TEXT}', 1 + abs(random() % 700), 40 + abs(random() % 600)) || ' session ' || lower(hex(randomblob(64))) FROM n`;

export interface BenchDatabase {
  path: string;
  size: number;
  rows: number;
  reused: boolean;
}

/** ensureDatabase returns a finished benchmark database of about targetBytes at path, making it if needed. */
export function ensureDatabase(path: string, targetBytes: number, log: (line: string) => void, kind: DatabaseKind = 'random'): BenchDatabase {
  const mark = kind === 'text' ? FINISHED_MARK_TEXT : FINISHED_MARK;
  const table = kind === 'text' ? 'events' : 'items';
  if (existsSync(path)) {
    const reusable = inspect(path, mark, table);
    const size = statSync(path).size;
    if (reusable && Math.abs(size - targetBytes) <= targetBytes * 0.05) return { path, size, rows: reusable.rows, reused: true };
    log(`${path}: not a finished benchmark database of the right size, making it again`);
    rmSync(path, { force: true });
  }
  const partial = `${path}.partial`;
  rmSync(partial, { force: true });
  rmSync(`${partial}-journal`, { force: true });
  const started = Date.now();
  const db = new Database(partial);
  let rows = 0;
  try {
    db.pragma('page_size = 4096');
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144'); // 256 MiB of page cache keeps the index build off the disk
    if (kind === 'text') {
      db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, email TEXT NOT NULL, status TEXT NOT NULL, path TEXT NOT NULL, created INTEGER NOT NULL, request_id TEXT NOT NULL, message TEXT NOT NULL)');
    } else {
      db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, k TEXT NOT NULL, created INTEGER NOT NULL, payload BLOB NOT NULL)');
    }
    const insert = db.prepare(kind === 'text' ? TEXT_INSERT : `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
      INSERT INTO items (k, created, payload) SELECT lower(hex(randomblob(8))), abs(random() % 2000000000), ${PAYLOAD_SQL} FROM n`);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const fileSize = (): number => (db.pragma('page_count', { simple: true }) as number) * pageSize;
    // The index adds about 2 %: stop the table a little short so the finished file lands near the target.
    const tableTarget = targetBytes * (kind === 'text' ? 0.92 : 0.975);
    let lastLog = Date.now();
    for (let size = fileSize(); size < tableTarget; size = fileSize()) {
      // About 2.7 KB (text: about 0.5 KB) of file per row: smaller batches near the end land close to the target.
      const batch = Math.max(100, Math.min(ROWS_PER_BATCH, Math.floor((tableTarget - size) / (kind === 'text' ? 600 : 3000))));
      db.transaction(() => insert.run(batch))();
      rows += batch;
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        log(`  ${path}: ${(fileSize() / 2 ** 20).toFixed(0)} of ${(targetBytes / 2 ** 20).toFixed(0)} MiB`);
      }
    }
    db.exec(kind === 'text' ? 'CREATE INDEX events_email ON events (email)' : 'CREATE INDEX items_k ON items (k)');
    db.pragma(`user_version = ${mark}`);
  } finally {
    db.close();
  }
  renameSync(partial, path);
  const size = statSync(path).size;
  log(`made ${path}: ${(size / 2 ** 20).toFixed(0)} MiB, ${rows} rows, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { path, size, rows, reused: false };
}

function inspect(path: string, mark: number, table: string): { rows: number } | null {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      if (db.pragma('user_version', { simple: true }) !== mark) return null;
      const rows = db.prepare(`SELECT max(id) FROM ${table}`).pluck().get() as number;
      return { rows };
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

/** makeTinyDatabase writes a small database (a few hundred KB) for the queue-latency measurement. */
export function makeTinyDatabase(path: string): void {
  rmSync(path, { force: true });
  const db = new Database(path);
  try {
    db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, k TEXT NOT NULL, payload BLOB NOT NULL)');
    db.exec(`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200)
      INSERT INTO items (k, payload) SELECT lower(hex(randomblob(8))), randomblob(1000) FROM n`);
    db.exec('CREATE INDEX items_k ON items (k)');
  } finally {
    db.close();
  }
}

/** sqliteVersion is the SQLite library version better-sqlite3 (and so snapkeep) links. */
export function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return db.prepare('SELECT sqlite_version()').pluck().get() as string;
  } finally {
    db.close();
  }
}
