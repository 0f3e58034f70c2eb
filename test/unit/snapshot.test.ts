import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnapkeepError } from '../../src/errors.js';
import { removeStaleTemporaries, snapshotDatabase } from '../../src/snapshot/snapshot-database.js';
import { verifySqliteFile } from '../../src/snapshot/verify-sqlite.js';
import { startBusyWriter } from '../helpers/busy-writer.js';
import { OTHER_RUN } from '../helpers/stale-owners.js';



async function expectSnapkeepError(promise: Promise<unknown>): Promise<SnapkeepError> {
  const thrown = await promise.then(() => null, (error: unknown) => error);
  expect(thrown).toBeInstanceOf(SnapkeepError);
  return thrown as SnapkeepError;
}

function makeDatabase(path: string, rows = 500, journalMode = 'DELETE'): void {
  const db = new Database(path);
  db.pragma(`journal_mode = ${journalMode}`);
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); CREATE INDEX notes_body ON notes (body)');
  const insert = db.prepare('INSERT INTO notes (body) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`note number ${i} ${'x'.repeat(i % 97)}`);
  })();
  db.close();
}

function counts(path: string): { a: number; b: number; integrity: string } {
  const db = new Database(path, { readonly: true });
  try {
    return {
      a: db.prepare('SELECT count(*) FROM a').pluck().get() as number,
      b: db.prepare('SELECT count(*) FROM b').pluck().get() as number,
      integrity: db.prepare('PRAGMA integrity_check').pluck().get() as string,
    };
  } finally {
    db.close();
  }
}

let work: string;
let tempDir: string;
let writer: ChildProcess | null = null;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'snapkeep-snapshot-'));
  tempDir = join(work, 'tmp');
  mkdirSync(tempDir);
});

afterEach(async () => {
  if (writer && writer.exitCode === null && writer.signalCode === null) {
    const exited = once(writer, 'exit');
    writer.kill('SIGKILL');
    await exited;
  }
  writer = null;
  rmSync(work, { recursive: true, force: true });
});

describe('snapshotDatabase', () => {
  it('copies a small database into a 0600 file under tempDir', async () => {
    const dbPath = join(work, 'app.db');
    makeDatabase(dbPath);
    const snapshot = await snapshotDatabase(dbPath, tempDir);
    expect(snapshot.path.startsWith(join(tempDir, 'snapshot-'))).toBe(true);
    expect(snapshot.path.endsWith('.tmp')).toBe(true);
    expect(statSync(snapshot.path).mode & 0o777).toBe(0o600);
    expect(snapshot.size).toBe(statSync(snapshot.path).size);
    const copy = new Database(snapshot.path, { readonly: true });
    expect(copy.prepare('SELECT count(*) FROM notes').pluck().get()).toBe(500);
    copy.close();
    await verifySqliteFile(snapshot.path);
  });

  it('creates the snapshot 0600 even with a permissive umask', async () => {
    const dbPath = join(work, 'app.db');
    makeDatabase(dbPath);
    const previous = process.umask(0);
    try {
      const snapshot = await snapshotDatabase(dbPath, tempDir);
      expect(statSync(snapshot.path).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('gives each snapshot its own file', async () => {
    const dbPath = join(work, 'app.db');
    makeDatabase(dbPath, 10);
    const [first, second] = await Promise.all([snapshotDatabase(dbPath, tempDir), snapshotDatabase(dbPath, tempDir)]);
    expect(first.path).not.toBe(second.path);
    expect(readdirSync(tempDir)).toHaveLength(2);
  });

  it.each(['WAL', 'DELETE'])('takes consistent snapshots while another process writes (%s journal)', async (journalMode) => {
    const dbPath = join(work, 'live.db');
    // Every transaction adds the same n to `a` and `b`: a torn snapshot would show different counts.
    // In rollback-journal mode a writer that never pauses starves every reader for seconds; 1 ms between
    // commits still makes hundreds a second.
    const busy = await startBusyWriter(dbPath, journalMode as 'WAL' | 'DELETE', join(work, 'writer.cjs'), journalMode === 'DELETE' ? 1 : 0);
    writer = busy.child;
    const seen: number[] = [];
    const liveCount = (): number => busy.committedRows();
    for (let i = 0; i < 4; i++) {
      const before = liveCount();
      const snapshot = await snapshotDatabase(dbPath, tempDir);
      const after = liveCount();
      const { a, b, integrity } = counts(snapshot.path);
      expect(integrity).toBe('ok');
      expect(a).toBeGreaterThan(0);
      expect(a).toBe(b);
      expect(a).toBeGreaterThanOrEqual(before);
      expect(a).toBeLessThanOrEqual(after);
      await verifySqliteFile(snapshot.path);
      rmSync(snapshot.path);
      seen.push(a);
    }
    // The writer kept committing between snapshots, and none of its commits was starved into failing.
    expect(seen[seen.length - 1]).toBeGreaterThan(seen[0]!);
    expect(writer.exitCode).toBeNull();
    expect(readdirSync(tempDir)).toEqual([]);
  });

  it('fails clearly, without retry and without leftovers, when the database is missing', async () => {
    const dbPath = join(work, 'missing.db');
    const error = await expectSnapkeepError(snapshotDatabase(dbPath, tempDir));
    expect(error.code).toBe('snapshot_failed');
    expect(error.message).toBe(`database not found: ${dbPath}`);
    expect(error.retryable).toBe(false);
    expect(readdirSync(tempDir)).toEqual([]);
  });

  it('removes the partial output when SQLite fails, naming the database', async () => {
    const dbPath = join(work, 'garbage.db');
    writeFileSync(dbPath, randomBytes(8192));
    const error = await expectSnapkeepError(snapshotDatabase(dbPath, tempDir));
    expect(error.code).toBe('snapshot_failed');
    expect(error.message).toContain(dbPath);
    expect(error.retryable).toBe(false);
    expect(readdirSync(tempDir)).toEqual([]);
  });

  it('reports SQLITE_BUSY as retryable when a writer holds the lock past the busy timeout', async () => {
    const dbPath = join(work, 'locked.db');
    makeDatabase(dbPath, 10);
    const holder = new Database(dbPath);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const error = await expectSnapkeepError(snapshotDatabase(dbPath, tempDir, { busyTimeoutMs: 200 }));
      expect(error.code).toBe('snapshot_failed');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain(dbPath);
      expect(readdirSync(tempDir)).toEqual([]);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });
});

describe('removeStaleTemporaries', () => {
  it('removes what dead runs left and keeps live work and unrelated files', async () => {
    const dbPath = join(work, 'app.db');
    makeDatabase(dbPath, 10);
    const ours = await snapshotDatabase(dbPath, tempDir);
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    const file = (name: string, old = false): string => {
      const path = join(tempDir, name);
      writeFileSync(path, 'x');
      if (old) utimesSync(path, twoDaysAgo, twoDaysAgo);
      return path;
    };
    const deadPid = 2 ** 30; // above any Linux pid_max, so never a live process
    const stale = [
      file(`snapshot-${deadPid}-${OTHER_RUN}-000000000000.sqlite.tmp`),
      file(`snapshot-${deadPid}-${OTHER_RUN}-000000000000.sqlite.tmp-wal`),
      file(`restore-${deadPid}-${OTHER_RUN}-111111111111.tmp`),
      // Same pid as ours under another run token: an earlier incarnation of this container.
      file(`snapshot-${process.pid}-${OTHER_RUN}-222222222222.sqlite.tmp`),
      file(`restore-${process.ppid}-${OTHER_RUN}-333333333333.tmp`, true),
      file(`snapshot-${deadPid}-${OTHER_RUN}-555555555555.archive.tmp`),
    ];
    const kept = [
      ours.path,
      file(`restore-${process.ppid}-${OTHER_RUN}-444444444444.tmp`),
      file('snapshot-unknown-shape-but-new.tmp'),
      // Restores are written in the application's directory: a user's file that only looks like
      // ours (no owner, or not our exact shape) survives however old.
      file('restore-notes.tmp', true),
      file('snapshot-unknown-shape.tmp', true),
      file(`restore-${deadPid}-${OTHER_RUN}-not-hex.tmp`, true),
      file('notes.txt', true),
    ];
    const removed = await removeStaleTemporaries(tempDir);
    expect(removed.sort()).toEqual(stale.sort());
    for (const path of kept) expect(existsSync(path), path).toBe(true);
  });

  it('does nothing when the directory does not exist', async () => {
    expect(await removeStaleTemporaries(join(work, 'nowhere'))).toEqual([]);
  });
});

describe('verifySqliteFile', () => {
  it('accepts a sound database', async () => {
    const dbPath = join(work, 'ok.db');
    makeDatabase(dbPath);
    await expect(verifySqliteFile(dbPath)).resolves.toBeUndefined();
  });

  it('accepts the shared sample database', async () => {
    const copy = join(work, 'sample.db');
    copyFileSync(new URL('../fixtures/crbu-vectors/sample.db', import.meta.url), copy);
    await expect(verifySqliteFile(copy)).resolves.toBeUndefined();
  });

  it('leaves no -wal or -shm beside a WAL-mode file it checked', async () => {
    const dbPath = join(work, 'wal.db');
    makeDatabase(dbPath, 100, 'WAL');
    expect(readFileSync(dbPath)[18]).toBe(2); // the header says WAL
    await verifySqliteFile(dbPath);
    expect(readdirSync(work).sort()).toEqual(['tmp', 'wal.db']);
  });

  it.each([
    ['random bytes', randomBytes(4096)],
    ['an empty file', Buffer.alloc(0)],
    ['a header only', Buffer.from('SQLite format')],
  ])('rejects %s as not_sqlite', async (_label, content) => {
    const path = join(work, 'not.db');
    writeFileSync(path, content);
    const error = await expectSnapkeepError(verifySqliteFile(path));
    expect(error.code).toBe('not_sqlite');
    expect(error.message).toBe('not a SQLite database');
    expect(error.retryable).toBe(false);
  });

  it('reports what PRAGMA integrity_check found when a row changed in the middle of a table page', async () => {
    const dbPath = join(work, 'corrupt.db');
    makeDatabase(dbPath, 3000);
    const image = readFileSync(dbPath);
    const pageSize = image.readUInt16BE(16);
    // The text is stored twice, in the table and in its index; change the table's copy only, on a
    // table leaf page (type 0x0d), so the index no longer matches and the file still opens.
    const needle = Buffer.from('note number 1500 ');
    let at = image.indexOf(needle);
    while (at !== -1 && image[Math.floor(at / pageSize) * pageSize] !== 0x0d) at = image.indexOf(needle, at + 1);
    expect(at).toBeGreaterThan(pageSize);
    image.write('NOTE', at, 'latin1');
    writeFileSync(dbPath, image);
    const error = await expectSnapkeepError(verifySqliteFile(dbPath));
    expect(error.code).toBe('integrity_failed');
    expect(error.message).toBe('integrity check failed: row 1501 missing from index notes_body');
    expect(error.retryable).toBe(false);
  });

  it('rejects a database with a damaged b-tree page header as integrity_failed', async () => {
    const dbPath = join(work, 'corrupt.db');
    makeDatabase(dbPath, 3000);
    const image = readFileSync(dbPath);
    const pageSize = image.readUInt16BE(16);
    const pages = image.length / pageSize;
    expect(pages).toBeGreaterThan(10);
    // Page 1, and with it the "SQLite format 3" header, stays intact: the failure is the check's.
    const page = Math.floor(pages / 2);
    image.fill(0xa5, page * pageSize, page * pageSize + 64);
    writeFileSync(dbPath, image);
    const error = await expectSnapkeepError(verifySqliteFile(dbPath));
    expect(error.code).toBe('integrity_failed');
    expect(error.message).toMatch(/^integrity check failed: ./);
    expect(error.retryable).toBe(false);
  });

  it('rejects a database cut in half as integrity_failed', async () => {
    const dbPath = join(work, 'half.db');
    makeDatabase(dbPath, 3000);
    const image = readFileSync(dbPath);
    writeFileSync(dbPath, image.subarray(0, Math.floor(image.length / 2)));
    const error = await expectSnapkeepError(verifySqliteFile(dbPath));
    expect(error.code).toBe('integrity_failed');
    expect(error.retryable).toBe(false);
  });
});
