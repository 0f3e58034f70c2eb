import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

/**
 * ContentFingerprint is what a backup's database held, cheap to compare: the row count of every
 * table and a hash of the schema. Recorded at backup time (authenticated, with the backup), it lets
 * a restore drill tell a backup that decrypts and passes integrity_check but is not the data that
 * was backed up, and lets the next backup notice a database that was emptied (issue 16).
 */
export interface ContentFingerprint {
  /** Rows per table, by name (sqlite_ internal tables left out). */
  tables: Record<string, number>;
  /** SHA-256 of every schema object's type, name and SQL, in name order. */
  schemaSha256: string;
}

/** fingerprintOf reads a database's fingerprint on an open connection (a snapshot or a restore, never the live file). */
export function fingerprintOf(db: Database.Database): ContentFingerprint {
  const schema = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as Array<Record<string, string | null>>;
  const tables: Record<string, number> = {};
  for (const row of schema) {
    if (row.type !== 'table' || row.sql?.toUpperCase().startsWith('CREATE VIRTUAL')) continue;
    const name = String(row.name);
    tables[name] = Number(db.prepare(`SELECT count(*) FROM "${name.replace(/"/g, '""')}"`).pluck().get());
  }
  const schemaSha256 = createHash('sha256').update(JSON.stringify(schema)).digest('hex');
  return { tables, schemaSha256 };
}
