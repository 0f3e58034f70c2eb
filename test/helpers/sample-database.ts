import Database from 'better-sqlite3';

/** createSampleDatabase makes a WAL database with `rows` notes, as an application would have. */
export function createSampleDatabase(path: string, rows = 200): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO notes (body) VALUES (?)');
  db.transaction(() => { for (let i = 0; i < rows; i++) insert.run(`note ${i} ${'x'.repeat(i % 50)}`); })();
  db.close();
}

/**
 * readNotes returns every row of `notes`, for comparing a restore with its source. Not read-only:
 * a restore in WAL mode (as its live database was) opened read-only would leave -wal/-shm files
 * behind; a read-write connection removes them as it closes.
 */
export function readNotes(path: string): Array<{ id: number; body: string }> {
  const db = new Database(path, { fileMustExist: true });
  try {
    return db.prepare('SELECT id, body FROM notes ORDER BY id').all() as Array<{ id: number; body: string }>;
  } finally {
    db.close();
  }
}
