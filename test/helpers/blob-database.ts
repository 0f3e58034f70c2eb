import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';

const MiB = 1024 * 1024;

/**
 * createBlobDatabase writes a database of about `mib` MiB of random 64 KiB blobs in one statement:
 * big enough that an upload through a throttled proxy lasts seconds, and incompressible.
 */
export function createBlobDatabase(path: string, mib: number): void {
  const db = new Database(path);
  db.exec(`PRAGMA journal_mode = WAL;
    CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${mib * 16})
    INSERT INTO blobs (body) SELECT randomblob(${MiB / 16}) FROM n;`);
  db.close();
}

/** blobDigest is a SHA-256 of every row of `blobs` in id order: equal digests, equal contents. */
export function blobDigest(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const hash = createHash('sha256');
    for (const row of db.prepare('SELECT id, body FROM blobs ORDER BY id').iterate() as Iterable<{ id: number; body: Buffer }>) {
      hash.update(String(row.id)).update(row.body);
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}
