import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyResult } from '../../src/queue/job-types.js';
import { journalModeOf } from '../../src/snapshot/journal-mode.js';
import { runCli } from '../helpers/cli.js';
import { createAppDatabase, filesBeside, NOBODY, ownedTree } from '../helpers/live-files.js';
import { removeDir } from '../helpers/redis-server.js';
import { readNotes } from '../helpers/sample-database.js';

/**
 * Issue 15 for archives, through the built CLI: `backup apply` moves each restored path in the
 * safe order (keys and vault, identity and config, data, the database last), keeps each replaced
 * path as `{path}.pre-apply.{time}`, and a failure in the third move puts back the first two.
 */
describe('backup apply of an archive (CLI)', () => {
  let dir: string;
  let srv: string;
  let dbPath: string;
  let env: Record<string, string>;
  let archiveId: string;
  const paths = (): string[] => [join(srv, 'vault'), join(srv, 'etc', 'myapp'), join(srv, 'data')];
  const liveState = () => ({ trees: paths().map((p) => ownedTree(p)), database: filesBeside(join(dir, 'live')) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-apply-archive-'));
    srv = join(dir, 'srv');
    mkdirSync(join(srv, 'vault'), { recursive: true });
    mkdirSync(join(srv, 'etc', 'myapp'), { recursive: true });
    mkdirSync(join(srv, 'data', 'uploads'), { recursive: true });
    writeFileSync(join(srv, 'vault', 'signing.pem'), 'original key\n', { mode: 0o600 });
    writeFileSync(join(srv, 'etc', 'myapp', 'app.conf'), 'listen: 8080\n');
    chmodSync(join(srv, 'etc', 'myapp', 'app.conf'), 0o640);
    chownSync(join(srv, 'etc', 'myapp', 'app.conf'), 0, NOBODY);
    writeFileSync(join(srv, 'data', 'uploads', 'photo.jpg'), 'original photo');
    for (const p of ['data', 'data/uploads', 'data/uploads/photo.jpg']) chownSync(join(srv, p), NOBODY, NOBODY);
    dbPath = createAppDatabase(dir, 60);
    env = {
      DB_PATH: dbPath, MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups'),
      BACKUP_INCLUDE_PATHS: paths().join(','),
    };
    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    archiveId = (JSON.parse(created.stdout) as { backupId: string }).backupId;
    // After the backup: a rotated key, a changed config, a new upload, more rows.
    writeFileSync(join(srv, 'vault', 'signing.pem'), 'rotated key\n');
    writeFileSync(join(srv, 'etc', 'myapp', 'app.conf'), 'listen: 9090\n');
    writeFileSync(join(srv, 'data', 'uploads', 'new.jpg'), 'newer photo');
    chownSync(join(srv, 'data', 'uploads', 'new.jpg'), NOBODY, NOBODY);
    const db = new Database(dbPath);
    db.prepare('INSERT INTO notes (body) VALUES (?)').run('newer');
    db.close();
  });
  afterAll(() => { if (dir) removeDir(dir); });

  it('a failure in the third move (the data directory cannot be moved aside) puts back the first two', async () => {
    const before = liveState();
    execFileSync('chattr', ['+i', join(srv, 'data')]);
    let failed;
    try {
      failed = await runCli(['backup', 'apply', '--id', archiveId], env);
    } finally {
      execFileSync('chattr', ['-i', join(srv, 'data')]);
    }
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`apply failed: EPERM: operation not permitted, rename '${join(srv, 'data')}'`);
    for (const path of [join(srv, 'etc', 'myapp'), join(srv, 'vault')]) {
      expect(failed.stderr).toMatch(new RegExp(`moved ${path}\\.pre-apply\\.\\d{8}T\\d{6}Z back to ${path}[;.]`));
    }
    expect(failed.stderr).toContain('The live files are as they were.');
    expect(liveState()).toEqual(before);
    expect(readdirSync(srv).sort()).toEqual(['data', 'etc', 'vault']);
    expect(readdirSync(join(srv, 'etc'))).toEqual(['myapp']);
  });

  it('applies every path in the safe order, the database last, keeping owners, modes and what it replaced', async () => {
    const applied = await runCli(['backup', 'apply', '--id', archiveId, '--json'], env);
    expect(applied.code, applied.stderr).toBe(0);
    const result = JSON.parse(applied.stdout) as ApplyResult;
    expect(result).toMatchObject({ backupId: archiveId, kind: 'archive', restored: true, database: { path: dbPath, uid: NOBODY, gid: NOBODY, mode: '0640', journalMode: 'wal' } });
    const placed = result.moves.filter((m) => m.role === 'into place').map((m) => m.to);
    expect(placed).toEqual([...paths(), dbPath]);
    const stamp = /\.pre-apply\.(\d{8}T\d{6}Z)$/.exec(result.moves[0]!.to)![1]!;
    expect(result.moves.filter((m) => m.role === 'aside').map((m) => m.to)).toEqual([...paths(), dbPath].map((p) => `${p}.pre-apply.${stamp}`));

    // As backed up, with the live owners; the secret no looser than 0600, its directory 0700.
    const vault = ownedTree(join(srv, 'vault'));
    expect(vault['']).toMatchObject({ mode: 0o700, uid: 0 });
    expect(vault['signing.pem']).toMatchObject({ mode: 0o600, uid: 0 });
    expect(readFileSync(join(srv, 'vault', 'signing.pem'), 'utf8')).toBe('original key\n');
    expect(ownedTree(join(srv, 'etc', 'myapp'))['app.conf']).toMatchObject({ mode: 0o640, uid: 0, gid: NOBODY });
    expect(readFileSync(join(srv, 'etc', 'myapp', 'app.conf'), 'utf8')).toBe('listen: 8080\n');
    const data = ownedTree(join(srv, 'data'));
    expect(Object.keys(data).sort()).toEqual(['', 'uploads', 'uploads/photo.jpg']);
    for (const entry of Object.values(data)) expect(entry).toMatchObject({ uid: NOBODY, gid: NOBODY });
    expect(readNotes(dbPath)).toHaveLength(60);
    expect(journalModeOf(dbPath)).toBe('wal');

    // What was live is kept aside, whole.
    expect(readFileSync(join(srv, `vault.pre-apply.${stamp}`, 'signing.pem'), 'utf8')).toBe('rotated key\n');
    expect(readFileSync(join(srv, 'etc', `myapp.pre-apply.${stamp}`, 'app.conf'), 'utf8')).toBe('listen: 9090\n');
    expect(readFileSync(join(srv, `data.pre-apply.${stamp}`, 'uploads', 'new.jpg'), 'utf8')).toBe('newer photo');
    expect(readNotes(`${dbPath}.pre-apply.${stamp}`)).toHaveLength(61);
  });
});
