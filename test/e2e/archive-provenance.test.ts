import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newBackupId } from '../../src/backups/backup-id.js';
import { runCli } from '../helpers/cli.js';
import { removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

/**
 * Issue 13, finding 4, from the side of someone who holds the public key (BACKUP_AGE_RECIPIENTS is
 * no secret) and can write to the bucket: they plant an age archive whose manifest sends files to
 * /root/.ssh and the database to /etc/shadow. A restore must not call it verified, nor print those
 * moves, unless the operator says --trust-unverified; the database always goes to DB_PATH.
 */
describe('archive provenance', () => {
  let dir: string;
  let env: Record<string, string>;
  let keyFile: string;
  let recipient: string;
  let store: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-provenance-'));
    mkdirSync(join(dir, 'app', 'config'), { recursive: true });
    writeFileSync(join(dir, 'app', 'config', 'app.ini'), 'mode = production\n');
    createSampleDatabase(join(dir, 'app.db'), 50);
    keyFile = join(dir, 'key.txt');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
    recipient = execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();
    store = join(dir, 'backups');
    env = {
      DB_PATH: join(dir, 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: store,
      BACKUP_INCLUDE_PATHS: join(dir, 'app', 'config'), BACKUP_AGE_RECIPIENTS: recipient,
    };
  });
  afterAll(() => { if (dir) removeDir(dir); });

  /** plant writes an age archive the way an intruder would: their own tar and manifest, `age -r` with the public key. */
  async function plant(manifestExtra: Record<string, unknown> = {}): Promise<string> {
    const backupId = newBackupId(new Date(Date.now() - 60_000));
    const db = readFileSync(join(dir, 'app.db'));
    const payload = Buffer.from('ssh-ed25519 AAAA intruder\n');
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    const mtime = new Date().toISOString();
    const manifest = {
      format: 'snapkeep-archive', formatVersion: 1, snapkeepVersion: '0.1.0', backupId, createdAt: mtime,
      database: { path: 'database/app.sqlite', source: '/etc/shadow' },
      sources: [{ path: '/root/.ssh', archivePath: 'files/root/.ssh', type: 'directory' }],
      exclude: [],
      entries: [
        { path: 'database/app.sqlite', type: 'file', size: db.length, mode: '0600', mtime, sha256: sha(db) },
        { path: 'files/root/.ssh', type: 'directory', size: 0, mode: '0700', mtime },
        { path: 'files/root/.ssh/authorized_keys', type: 'file', size: payload.length, mode: '0600', mtime, sha256: sha(payload) },
      ],
      skipped: [],
      ...manifestExtra,
    };
    const pack = tar.pack();
    pack.entry({ name: 'manifest.json' }, JSON.stringify(manifest));
    pack.entry({ name: 'database/app.sqlite' }, db);
    pack.entry({ name: 'files/root/.ssh', type: 'directory' });
    pack.entry({ name: 'files/root/.ssh/authorized_keys' }, payload);
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    const tarFile = join(dir, `${backupId}.tar`);
    writeFileSync(tarFile, Buffer.concat(chunks));
    execFileSync('age', ['-r', recipient, '-o', join(store, `${backupId}.tar.age`), tarFile]);
    return backupId;
  }

  it('restores the installation\'s own public-key archive as verified', async () => {
    const made = await runCli(['backup', 'create', '--json'], env);
    expect(made.code, made.stderr).toBe(0);
    const { backupId } = JSON.parse(made.stdout) as { backupId: string };
    const restored = await runCli(['backup', 'restore', '--id', backupId, '--identity-file', keyFile], env);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain('origin: verified');
    expect(restored.stdout).toContain(`to ${join(dir, 'app.db')}`);
  });

  it.each([
    ['no authenticator', {}, 'carries no authenticator'],
    ['a forged authenticator', { authenticator: { alg: 'hmac-sha256', key: '0123456789abcdef', mac: 'ab'.repeat(32) } }, 'does not match its authenticator'],
  ])('refuses a planted archive with %s, printing no move and leaving no restore', async (_what, extra, message) => {
    const backupId = await plant(extra);
    const restoreRoot = join(dir, 'state', 'restore');
    const list = (): string[] => (existsSync(restoreRoot) ? readdirSync(restoreRoot) : []);
    const before = list();
    const restored = await runCli(['backup', 'restore', '--id', backupId, '--identity-file', keyFile], env);
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain(message);
    expect(restored.stdout).not.toContain('/root/.ssh');
    expect(restored.stdout).not.toContain('/etc/shadow');
    expect(list()).toEqual(before);
    expect(list()).not.toContain(backupId);
  });

  it('with --trust-unverified says plainly the origin is unverified, and sends the database to DB_PATH, never the manifest\'s path', async () => {
    const backupId = await plant();
    const restored = await runCli(['backup', 'restore', '--id', backupId, '--identity-file', keyFile, '--trust-unverified', '--target', join(dir, 'inspect')], env);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain('could NOT be verified');
    expect(restored.stdout).not.toContain('/etc/shadow');
    expect(restored.stdout).toContain(`to ${join(dir, 'app.db')}`);
  });

  it('refuses a manifest whose include path is not absolute and normalised, even with --trust-unverified', async () => {
    const backupId = await plant({ sources: [{ path: '/srv/app/../../root/.ssh', archivePath: 'files/root/.ssh', type: 'directory' }] });
    const restored = await runCli(['backup', 'restore', '--id', backupId, '--identity-file', keyFile, '--trust-unverified'], env);
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain('not an absolute, normalised path');
  });

  it('refuses --trust-unverified with --queue: a worker trusts only what its key verifies', async () => {
    const r = await runCli(['backup', 'restore', '--id', newBackupId(new Date()), '--queue', '--trust-unverified'], env);
    expect(r.code).toBe(2);
  });
});
