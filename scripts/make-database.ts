/**
 * make-database writes a SQLite database of about SIZE bytes (WAL journal, as an application's):
 * random, incompressible blobs of 1–16 KiB with an indexed random key, so that a backup and a
 * restore move and check real pages, overflow chains and an index.
 *
 *   node --import tsx scripts/make-database.ts PATH [SIZE]     SIZE: 512M (default), 64K, 2G …
 *
 * It refuses to overwrite PATH.
 */
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };
// About 8 MiB of rows per transaction: big enough to be fast, small enough to stop near the target.
const ROWS_PER_BATCH = 1000;

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new Error(`not a size: ${text} (e.g. 512M, 2G)`);
  return Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
}

const [path, sizeText = '512M'] = process.argv.slice(2);
if (!path) {
  process.stderr.write('usage: node --import tsx scripts/make-database.ts PATH [SIZE]\n');
  process.exit(2);
}
if (existsSync(path)) {
  process.stderr.write(`${path} exists; remove it first\n`);
  process.exit(1);
}
const target = parseSize(sizeText);
const db = new Database(path);
db.pragma('journal_mode = WAL');
// A throwaway file: durability during the build buys nothing.
db.pragma('synchronous = OFF');
db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, key TEXT NOT NULL, body BLOB NOT NULL)');
const insert = db.prepare(`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
  INSERT INTO items (key, body) SELECT lower(hex(randomblob(8))), randomblob(1024 + abs(random()) % 15361) FROM n`);
const bytes = (): number => (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
// Leave room for the index (about 40 bytes a row) so the result lands near the target.
while (bytes() < target * 0.99) insert.run(ROWS_PER_BATCH);
db.exec('CREATE INDEX items_key ON items (key)');
const rows = db.prepare('SELECT count(*) FROM items').pluck().get() as number;
db.close();
process.stdout.write(`${path}: ${rows} rows, ${statSync(path).size} bytes\n`);
