import Database from 'better-sqlite3';

/**
 * restoreJournalMode gives a restored database file the journal mode its live database had. Only
 * WAL is stored in the file itself (header bytes 18-19); the other modes are a connection's choice,
 * and a `VACUUM INTO` copy is always in rollback-journal mode. An application that never sets the
 * mode would otherwise silently change how it locks after a restore (issue 15). The file is not in
 * use by anything (a temporary restore), and closing the connection removes the -wal/-shm it made.
 */
export function restoreJournalMode(path: string, journalMode: string | undefined): void {
  if (journalMode !== 'wal') return;
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

/** journalModeOf reads the mode a database file would open in (`wal` or `delete`), without changing it. */
export function journalModeOf(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma('journal_mode', { simple: true }));
  } finally {
    db.close();
  }
}
