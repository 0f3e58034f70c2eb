import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreResult } from '../../src/queue/job-types.js';
import { ageDecryptAtPrompt } from '../helpers/age-cli.js';
import { runCli } from '../helpers/cli.js';
import { describeTree, makeSampleTree, withoutLogs } from '../helpers/file-tree.js';
import { removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

const MiB = 1024 * 1024;
const PASSPHRASE = 'plain old passphrase, 42 times';

describe('archive backups through the CLI: a directory tree beside the database', () => {
  let dir: string;
  let tree: string;
  let dbPath: string;
  let env: Record<string, string>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-archive-e2e-'));
    tree = join(dir, 'app');
    makeSampleTree(tree, 50 * MiB);
    dbPath = join(dir, 'app.db');
    createSampleDatabase(dbPath, 400);
    env = {
      DB_PATH: dbPath, MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups'),
      BACKUP_INCLUDE_PATHS: tree, BACKUP_EXCLUDE: '*.log',
    };
  });
  afterAll(() => { if (dir) removeDir(dir); });

  const restoreDir = (): string => join(dir, 'state', 'restore');
  const leftovers = (): string[] => (existsSync(restoreDir()) ? readdirSync(restoreDir()) : []);

  let archiveId = '';
  it('backs up nested directories, a symlink, a 0600 secret and a 50 MiB file, without the excluded log', async () => {
    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const result = JSON.parse(created.stdout) as { backupId: string; key: string; kind: string; encryption: string };
    expect(result).toMatchObject({ kind: 'archive', encryption: 'master-key', key: `${result.backupId}.tar.crbu` });
    archiveId = result.backupId;
    expect(statSync(join(dir, 'backups', result.key)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'backups', result.key)).subarray(0, 5)).toEqual(Buffer.from('CRBU\x02', 'latin1'));
    // The plaintext staging is gone once the backup is stored.
    expect(readdirSync(join(dir, 'state', 'tmp'))).toEqual([]);
    const listed = await runCli(['backup', 'list', '--json'], env);
    expect(JSON.parse(listed.stdout)).toMatchObject({ backups: [{ id: archiveId, kind: 'archive', encryption: 'master-key' }] });
  });

  it('restores it into a new directory: every file, link and mode as it was, the database verified', async () => {
    const restored = await runCli(['backup', 'restore', '--id', archiveId, '--json'], env);
    expect(restored.code, restored.stderr).toBe(0);
    const result = JSON.parse(restored.stdout) as RestoreResult;
    const target = join(restoreDir(), archiveId);
    expect(result.path).toBe(target);
    expect(describeTree(join(target, 'files', ...tree.split('/').filter(Boolean)))).toEqual(withoutLogs(describeTree(tree)));
    expect(readNotes(join(target, 'database', 'app.sqlite'))).toEqual(readNotes(dbPath));
    expect(statSync(join(target, 'database', 'app.sqlite')).mode & 0o777).toBe(0o600);
    expect(result.archive?.moves.map((m) => m.to)).toEqual([tree, dbPath]);
    expect(leftovers()).toEqual([archiveId]);

    const again = await runCli(['backup', 'restore', '--id', archiveId], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${target} already exists`);

    const elsewhere = join(dir, 'elsewhere');
    const human = await runCli(['backup', 'restore', '--id', archiveId, '--target', elsewhere], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`move ${join(elsewhere, 'files', ...tree.split('/').filter(Boolean))} to ${tree}`);
    expect(human.stdout).toContain('Nothing live was touched');
    expect(statSync(join(elsewhere, 'files', ...tree.split('/').filter(Boolean), 'keys', 'signing.pem')).mode & 0o777).toBe(0o600);
  });

  it('fails a tampered archive with a clear message and leaves nothing restored', async () => {
    const object = join(dir, 'backups', `${archiveId}.tar.crbu`);
    const bytes = readFileSync(object);
    bytes[Math.floor(bytes.length / 2)] ^= 0x20;
    writeFileSync(object, bytes);
    const target = join(dir, 'tampered');
    const failed = await runCli(['backup', 'restore', '--id', archiveId, '--target', target], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/snapkeep: (wrong master key or corrupted backup|archive is damaged or was tampered with)/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('.tampered'))).toEqual([]);
  });

  it('locks a backup with a passphrase that the Debian age CLI opens at its prompt; the tar starts with manifest.json', async () => {
    const small = { ...env, BACKUP_INCLUDE_PATHS: join(tree, 'config') };
    const passFile = join(dir, 'passphrase.txt');
    writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    const created = await runCli(['backup', 'create', '--passphrase-file', passFile, '--json'], small);
    expect(created.code, created.stderr).toBe(0);
    const { backupId, key, encryption } = JSON.parse(created.stdout) as { backupId: string; key: string; encryption: string };
    expect(key).toBe(`${backupId}.tar.age`);
    expect(encryption).toBe('passphrase');

    const tarFile = join(dir, 'opened.tar');
    const opened = await ageDecryptAtPrompt(join(dir, 'backups', key), tarFile, PASSPHRASE);
    expect(opened.code, opened.output).toBe(0);
    const names = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).trim().split('\n');
    expect(names[0]).toBe('manifest.json');
    expect(names).toContain('database/app.sqlite');
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', tarFile, 'manifest.json'], { encoding: 'utf8' })) as { backupId: string; entries: Array<{ path: string; sha256?: string }> };
    expect(manifest.backupId).toBe(backupId);
    expect(manifest.entries.find((e) => e.path.endsWith('config/app.yml'))?.sha256).toMatch(/^[0-9a-f]{64}$/);

    const wrongFile = join(dir, 'wrong.txt');
    writeFileSync(wrongFile, 'not it\n');
    const before = leftovers();
    const wrong = await runCli(['backup', 'restore', '--id', backupId, '--passphrase-file', wrongFile], small);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('snapkeep: wrong passphrase, or the backup is damaged');
    expect(leftovers()).toEqual(before);

    const none = await runCli(['backup', 'restore', '--id', backupId], small);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('locked with a passphrase: give it with --passphrase-file');
    expect(leftovers()).toEqual(before);
  });

  it('refuses --identity-file with --queue: an identity never leaves this machine', async () => {
    mkdirSync(join(dir, 'keys'), { recursive: true });
    writeFileSync(join(dir, 'keys', 'key.txt'), 'AGE-SECRET-KEY-1\n');
    const refused = await runCli(['backup', 'restore', '--id', archiveId, '--queue', '--identity-file', join(dir, 'keys', 'key.txt')], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--identity-file cannot go with --queue');
  });
});
