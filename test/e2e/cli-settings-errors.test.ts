import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const KEY = 'ab'.repeat(32);
const base = { BACKUP_LOCAL_DIR: '/tmp/snapkeep-never-created', MASTER_KEY: KEY, DB_PATH: '/tmp/snapkeep-none.db', STATE_DIR: '/tmp/snapkeep-cli-state' };

describe('the CLI on bad settings and bad usage', () => {
  // Each row: settings with one variable wrong; the process must exit 2 naming it, before doing anything.
  it.each([
    ['MASTER_KEY', { ...base, MASTER_KEY: 'secret-but-short' }],
    ['BACKUP_SCHEDULE_HOURS', { ...base, BACKUP_SCHEDULE_HOURS: 'nightly' }],
    ['BACKUP_S3_BUCKET', { MASTER_KEY: KEY, DB_PATH: 'x.db', BACKUP_S3_ENDPOINT: 'http://127.0.0.1:1', BACKUP_S3_ACCESS_KEY: 'a', BACKUP_S3_SECRET_KEY: 'hunter2hunter2' }],
    ['PORT', { ...base, PORT: '99999' }],
    ['REDIS_URL', { ...base, REDIS_URL: 'localhost:6379' }],
    ['BACKUP_RETAIN_DAILY_DAYS', { ...base, BACKUP_RETAIN_DAILY_DAYS: '-1' }],
  ])('exits 2 naming %s, never echoing a secret', async (variable, env) => {
    const result = await runCli(['backup', 'list'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^snapkeep: ${variable}: `, 'm'));
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toContain('secret-but-short');
    expect(result.stderr).not.toContain('hunter2hunter2');
  });

  it('exits 2 on a usage error and on a malformed backup id', async () => {
    expect((await runCli(['backup', 'restore'], base)).code).toBe(2);
    expect((await runCli(['backup', 'nonsense'], base)).code).toBe(2);
    const badId = await runCli(['backup', 'restore', '--id', '../../etc/passwd'], base);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('not a backup id');
  });

  it.each([['list'], ['create'], ['prune', '--dry-run'], ['restore', '--id', '20260101T000000Z-0a1b2c3d']])(
    'backup %s with no store configured is a settings error (exit 2) naming BACKUP_S3_ENDPOINT', async (...args) => {
      const result = await runCli(['backup', ...args], { STATE_DIR: '/tmp/snapkeep-cli-state', DB_PATH: '/tmp/snapkeep-none.db' });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^snapkeep: BACKUP_S3_ENDPOINT: is required/m);
    });

  it('lists every problem at once, the missing store among them', async () => {
    const result = await runCli(['backup', 'create'], { STATE_DIR: '/tmp/snapkeep-cli-state', PORT: 'x', BACKUP_RETAIN_DAILY_DAYS: '-1' });
    expect(result.code).toBe(2);
    for (const variable of ['PORT', 'BACKUP_RETAIN_DAILY_DAYS', 'BACKUP_S3_ENDPOINT', 'DB_PATH']) {
      expect(result.stderr).toMatch(new RegExp(`^snapkeep: ${variable}: `, 'm'));
    }
  });

  it('refuses a .env line without "=", naming the line and never echoing it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapkeep-dotenv-'));
    try {
      writeFileSync(join(dir, '.env'), `# settings\nBACKUP_LOCAL_DIR=${dir}/b\nNOTE="two\nlines"\nMASTER_KEY ${KEY}\nDB_PATH=${dir}/x.db\n`);
      const result = await runCli(['backup', 'list'], { STATE_DIR: dir }, { cwd: dir });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${join(dir, '.env')} line 5: is not NAME=value`);
      expect(result.stderr).not.toContain(KEY);
      expect(result.stderr).not.toContain('MASTER_KEY: is required');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints a master key of 64 hex characters', async () => {
    const result = await runCli(['key', 'generate'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  });
});
