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

  it('says backups are disabled, naming BACKUP_S3_ENDPOINT, when no store is configured', async () => {
    const result = await runCli(['backup', 'list'], { STATE_DIR: '/tmp/snapkeep-cli-state' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('BACKUP_S3_ENDPOINT');
  });

  it('prints a master key of 64 hex characters', async () => {
    const result = await runCli(['key', 'generate'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  });
});
