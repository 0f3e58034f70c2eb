import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RollbackResult } from '../../src/apply/rollback-database.js';
import type { ApplyResult } from '../../src/queue/job-types.js';
import { journalModeOf } from '../../src/snapshot/journal-mode.js';
import { runCli } from '../helpers/cli.js';
import { startHolder, type DatabaseHolder } from '../helpers/database-holder.js';
import { createAppDatabase, filesBeside, integrityOf, NOBODY, withoutName } from '../helpers/live-files.js';
import { removeDir } from '../helpers/redis-server.js';
import { readNotes } from '../helpers/sample-database.js';

function addNotes(path: string, rows: number): void {
  const db = new Database(path);
  const insert = db.prepare('INSERT INTO notes (body) VALUES (?)');
  db.transaction(() => { for (let i = 0; i < rows; i++) insert.run(`newer note ${i}`); })();
  db.close();
}

/**
 * Issue 15 on real files and processes: `backup apply` and `backup rollback` through the built CLI,
 * against a WAL database owned by another user (nobody, 0640) that a separate process holds open.
 */
describe('backup apply and rollback of a database backup (CLI)', () => {
  let dir: string;
  let live: string;
  let dbPath: string;
  let env: Record<string, string>;
  let backupId: string;
  let holder: DatabaseHolder | undefined;
  const restoreName = (): string => `app.db.restore.${backupId}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-apply-'));
    dbPath = createAppDatabase(dir, 100);
    live = join(dir, 'live');
    env = { DB_PATH: dbPath, MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups') };
    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    backupId = (JSON.parse(created.stdout) as { backupId: string }).backupId;
    // Written after the backup: what an apply replaces and a rollback brings back.
    addNotes(dbPath, 50);
  });
  afterAll(async () => {
    await holder?.kill();
    if (dir) removeDir(dir);
  });

  it('refuses while a process holds the database open, naming its pid, and changes nothing live', async () => {
    // The holder adds a row that stays in the -wal when it is killed: the sidecars must travel with the file.
    holder = await startHolder(dbPath, { insert: true });
    const before = filesBeside(live);
    expect(Object.keys(before)).toEqual(['app.db', 'app.db-shm', 'app.db-wal']);
    const refused = await runCli(['backup', 'apply', '--id', backupId], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${dbPath} is open by pid ${holder.pid} (`);
    expect(refused.stderr).toContain('nothing was changed');
    expect(refused.stderr).toContain('--stop-command');
    // The verified restore it made first stays beside the database for the next attempt.
    expect(withoutName(filesBeside(live), restoreName())).toEqual(before);
    expect(existsSync(join(live, restoreName()))).toBe(true);
    expect(holder.child.exitCode).toBeNull();
  });

  let preApply = '';
  it('with --stop-command stops the holder, then puts the backup in place with the live owner, mode and WAL; the old files stay aside', async () => {
    const liveRows = readNotes(dbPath);
    expect(liveRows).toHaveLength(151);
    const started = join(dir, 'started');
    const applied = await runCli(['backup', 'apply', '--id', backupId, '--json', '--stop-command', `kill ${holder!.pid}`, '--start-command', `touch ${started}`], env);
    expect(applied.code, applied.stderr).toBe(0);
    await holder!.exited;
    const result = JSON.parse(applied.stdout) as ApplyResult;
    preApply = join(live, readdirSync(live).find((n) => /^app\.db\.pre-apply\.\d{8}T\d{6}Z$/.test(n))!);
    expect(result).toMatchObject({
      backupId, kind: 'database', restored: false, source: join(live, restoreName()),
      commands: { stop: `kill ${holder!.pid}`, start: `touch ${started}` },
      stopped: [{ pid: holder!.pid, command: expect.stringContaining('node') }],
      database: { path: dbPath, uid: NOBODY, gid: NOBODY, mode: '0640', journalMode: 'wal' },
    });
    expect(result.moves).toEqual([
      { from: dbPath, to: preApply, role: 'aside' },
      { from: `${dbPath}-wal`, to: `${preApply}-wal`, role: 'aside' },
      { from: `${dbPath}-shm`, to: `${preApply}-shm`, role: 'aside' },
      { from: join(live, restoreName()), to: dbPath, role: 'into place' },
    ]);
    expect(result.undo.at(-1)).toBe(`mv -T -- ${preApply} ${dbPath}`);
    expect(existsSync(started)).toBe(true);

    const placed = statSync(dbPath);
    expect({ uid: placed.uid, gid: placed.gid, mode: placed.mode & 0o7777 }).toEqual({ uid: NOBODY, gid: NOBODY, mode: 0o640 });
    expect(journalModeOf(dbPath)).toBe('wal');
    expect(integrityOf(dbPath)).toBe('ok');
    expect(readNotes(dbPath)).toHaveLength(100);
    // The pre-apply copy is the live database as it was, -wal included: every row, the holder's too.
    const kept = statSync(preApply);
    expect({ uid: kept.uid, gid: kept.gid, mode: kept.mode & 0o7777 }).toEqual({ uid: NOBODY, gid: NOBODY, mode: 0o640 });
    expect(readNotes(preApply)).toEqual(liveRows);
    expect(integrityOf(preApply)).toBe('ok');
  });

  it('rollback puts the pre-apply copy back (the newer rows return) and keeps the applied database aside', async () => {
    const rolled = await runCli(['backup', 'rollback', '--json'], env);
    expect(rolled.code, rolled.stderr).toBe(0);
    const result = JSON.parse(rolled.stdout) as RollbackResult;
    expect(result.restoredFrom).toBe(preApply);
    const aside = result.moves.find((m) => m.from === dbPath)!.to;
    expect(aside).toMatch(/\/app\.db\.pre-rollback\.\d{8}T\d{6}Z$/);
    const rows = readNotes(dbPath);
    expect(rows).toHaveLength(151);
    expect(rows.at(-1)!.body).toBe('written by the holder');
    expect(readNotes(aside)).toHaveLength(100);
    const back = statSync(dbPath);
    expect({ uid: back.uid, gid: back.gid, mode: back.mode & 0o7777 }).toEqual({ uid: NOBODY, gid: NOBODY, mode: 0o640 });
    expect(integrityOf(dbPath)).toBe('ok');
    expect(existsSync(preApply)).toBe(false);
  });

  it('a failure after the live files moved aside (their -shm cannot be moved) puts them back exactly as they were', async () => {
    // A killed application leaves its -wal and -shm: both must move, and the -shm will not.
    holder = await startHolder(dbPath, { insert: true });
    await holder.kill('SIGKILL');
    const shm = `${dbPath}-shm`;
    execFileSync('chattr', ['+i', shm]);
    try {
      const before = filesBeside(live);
      expect(Object.keys(before)).toEqual(expect.arrayContaining(['app.db', 'app.db-shm', 'app.db-wal']));
      const failed = await runCli(['backup', 'apply', '--id', backupId], env);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain(`apply failed: EPERM`);
      expect(failed.stderr).toContain(`moved ${dbPath}.pre-apply.`);
      expect(failed.stderr).toContain(`back to ${dbPath}-wal`);
      expect(failed.stderr).toContain(`back to ${dbPath}. The live files are as they were.`);
      // Same content, owner, mode and inode: the very files, put back; only the new restore beside them.
      expect(withoutName(filesBeside(live), restoreName())).toEqual(before);
    } finally {
      execFileSync('chattr', ['-i', shm]);
    }
    expect(readNotes(dbPath)).toHaveLength(152);
  });
});
