import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requireDbPath, type ConfigNeeds } from '../../src/config/load-config.js';

const KEY = 'ab'.repeat(32);
const local = { BACKUP_LOCAL_DIR: '/tmp/snapkeep-x', MASTER_KEY: KEY, DB_PATH: '/tmp/app.db' };

function problemsOf(env: Record<string, string>, needs: ConfigNeeds = {}): string[] {
  try {
    loadConfig(env, needs);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies DESIGN defaults', () => {
    const config = loadConfig(local);
    expect(config.port).toBe(7100);
    expect(config.host).toBe('127.0.0.1');
    expect(config.schedule).toEqual({ type: 'every', everyMs: 24 * 3_600_000 });
    expect(config.retention).toEqual({ dailyDays: 7, weeklyWeeks: 4 });
    expect(config.jobs).toEqual({ attempts: 3, backoffMs: 5000 });
    expect(config.queuePrefix).toBe('snapkeep');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('disables backups when no store is configured, and then needs no key', () => {
    expect(loadConfig({}).store).toBeUndefined();
  });

  it('reads fractional hours, a cron pattern and zero', () => {
    expect(loadConfig({ ...local, BACKUP_SCHEDULE_HOURS: '0.5' }).schedule).toEqual({ type: 'every', everyMs: 1_800_000 });
    expect(loadConfig({ ...local, BACKUP_SCHEDULE_HOURS: '0' }).schedule).toEqual({ type: 'off' });
    expect(loadConfig({ ...local, BACKUP_SCHEDULE_CRON: '0 2 * * *', BACKUP_SCHEDULE_TZ: 'Europe/Berlin' }).schedule)
      .toEqual({ type: 'cron', pattern: '0 2 * * *', tz: 'Europe/Berlin' });
  });

  const s3Env = { BACKUP_S3_ENDPOINT: 'http://127.0.0.1:9000', BACKUP_S3_BUCKET: 'b', BACKUP_S3_ACCESS_KEY: 'a', BACKUP_S3_SECRET_KEY: 's', MASTER_KEY: KEY };

  it('parses the S3 settings and previous keys', () => {
    const config = loadConfig({
      BACKUP_S3_ENDPOINT: 'http://127.0.0.1:9000', BACKUP_S3_BUCKET: 'b', BACKUP_S3_ACCESS_KEY: 'a', BACKUP_S3_SECRET_KEY: 's',
      BACKUP_S3_FORCE_PATH_STYLE: 'false', MASTER_KEY: KEY, MASTER_KEY_PREVIOUS: `${'cd'.repeat(32)}, ${'ef'.repeat(32)}`, DB_PATH: 'x.db',
    });
    expect(config.store).toMatchObject({ type: 's3', bucket: 'b', prefix: 'backups/', region: 'us-east-1', forcePathStyle: false, contentMd5: false });
    expect(loadConfig({ ...s3Env, BACKUP_S3_CONTENT_MD5: 'yes' }).store).toMatchObject({ contentMd5: true });
    expect(config.previousMasterKeys.map((k) => k.toString('hex'))).toEqual(['cd'.repeat(32), 'ef'.repeat(32)]);
  });

  // Each row: a variable set wrong, and the variable the error must name.
  const cases: Array<[string, Record<string, string>, string]> = [
    ['MASTER_KEY too short', { ...local, MASTER_KEY: 'abcd' }, 'MASTER_KEY'],
    ['MASTER_KEY not hex', { ...local, MASTER_KEY: 'zz'.repeat(32) }, 'MASTER_KEY'],
    ['MASTER_KEY missing with a store', { BACKUP_LOCAL_DIR: '/tmp/x', DB_PATH: 'a.db' }, 'MASTER_KEY'],
    ['MASTER_KEY_PREVIOUS malformed', { ...local, MASTER_KEY_PREVIOUS: 'nope' }, 'MASTER_KEY_PREVIOUS'],
    ['endpoint not a URL', { ...local, BACKUP_LOCAL_DIR: '', BACKUP_S3_ENDPOINT: 'not a url' }, 'BACKUP_S3_ENDPOINT'],
    ['bucket missing', { MASTER_KEY: KEY, DB_PATH: 'a', BACKUP_S3_ENDPOINT: 'http://h', BACKUP_S3_ACCESS_KEY: 'a', BACKUP_S3_SECRET_KEY: 's' }, 'BACKUP_S3_BUCKET'],
    ['access key missing', { MASTER_KEY: KEY, DB_PATH: 'a', BACKUP_S3_ENDPOINT: 'http://h', BACKUP_S3_BUCKET: 'b', BACKUP_S3_SECRET_KEY: 's' }, 'BACKUP_S3_ACCESS_KEY'],
    ['secret key missing', { MASTER_KEY: KEY, DB_PATH: 'a', BACKUP_S3_ENDPOINT: 'http://h', BACKUP_S3_BUCKET: 'b', BACKUP_S3_ACCESS_KEY: 'a' }, 'BACKUP_S3_SECRET_KEY'],
    ['path style not boolean', { ...local, BACKUP_S3_FORCE_PATH_STYLE: 'maybe' }, 'BACKUP_S3_FORCE_PATH_STYLE'],
    ['Content-MD5 not boolean', { ...local, BACKUP_S3_CONTENT_MD5: 'maybe' }, 'BACKUP_S3_CONTENT_MD5'],
    ['two stores at once', { ...local, BACKUP_S3_ENDPOINT: 'http://h', BACKUP_S3_BUCKET: 'b', BACKUP_S3_ACCESS_KEY: 'a', BACKUP_S3_SECRET_KEY: 's' }, 'BACKUP_LOCAL_DIR'],
    ['hours negative', { ...local, BACKUP_SCHEDULE_HOURS: '-1' }, 'BACKUP_SCHEDULE_HOURS'],
    ['hours not a number', { ...local, BACKUP_SCHEDULE_HOURS: 'daily' }, 'BACKUP_SCHEDULE_HOURS'],
    ['cron malformed', { ...local, BACKUP_SCHEDULE_CRON: 'every night' }, 'BACKUP_SCHEDULE_CRON'],
    ['time zone unknown', { ...local, BACKUP_SCHEDULE_TZ: 'Mars/Olympus' }, 'BACKUP_SCHEDULE_TZ'],
    ['daily days fractional', { ...local, BACKUP_RETAIN_DAILY_DAYS: '1.5' }, 'BACKUP_RETAIN_DAILY_DAYS'],
    ['weekly weeks negative', { ...local, BACKUP_RETAIN_WEEKLY_WEEKS: '-2' }, 'BACKUP_RETAIN_WEEKLY_WEEKS'],
    ['attempts zero', { ...local, BACKUP_JOB_ATTEMPTS: '0' }, 'BACKUP_JOB_ATTEMPTS'],
    ['backoff text', { ...local, BACKUP_JOB_BACKOFF_MS: 'soon' }, 'BACKUP_JOB_BACKOFF_MS'],
    ['redis url wrong scheme', { ...local, REDIS_URL: 'http://localhost' }, 'REDIS_URL'],
    ['queue prefix with a colon', { ...local, QUEUE_PREFIX: 'a:b' }, 'QUEUE_PREFIX'],
    ['port out of range', { ...local, PORT: '70000' }, 'PORT'],
    ['port text', { ...local, PORT: 'http' }, 'PORT'],
    ['log level unknown', { ...local, LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['log format unknown', { ...local, LOG_FORMAT: 'xml' }, 'LOG_FORMAT'],
    ['age recipient malformed', { ...local, BACKUP_AGE_RECIPIENTS: 'ssh-rsa AAAA' }, 'BACKUP_AGE_RECIPIENTS'],
  ];
  it.each(cases)('%s names the variable', (_label, env, variable) => {
    const problems = problemsOf(env);
    expect(problems.some((p) => p.startsWith(`${variable}:`))).toBe(true);
  });

  describe('DB_PATH, required only where the database is read or written', () => {
    const noDatabase = { BACKUP_LOCAL_DIR: '/tmp/x', MASTER_KEY: KEY };

    it('is not needed to list, prune, enqueue or manage tokens, with a store or without', () => {
      expect(loadConfig(noDatabase).dbPath).toBeUndefined();
      expect(loadConfig({}).dbPath).toBeUndefined();
      expect(loadConfig({ ...noDatabase, BACKUP_LOCAL_DIR: '', BACKUP_S3_ENDPOINT: 'http://h', BACKUP_S3_BUCKET: 'b', BACKUP_S3_ACCESS_KEY: 'a', BACKUP_S3_SECRET_KEY: 's' }).dbPath).toBeUndefined();
    });

    it('is required by a command that snapshots in its own process, store or not, naming the command', () => {
      const withStore = problemsOf(noDatabase, { database: 'always', command: 'backup create' });
      expect(withStore).toEqual(['DB_PATH: is required by `snapkeep backup create`: the SQLite database to back up; restores are written beside it']);
      expect(problemsOf({}, { database: 'always' })).toEqual([expect.stringMatching(/^DB_PATH: is required: /)]);
      expect(loadConfig({ ...noDatabase, DB_PATH: 'app.db' }, { database: 'always' }).dbPath).toMatch(/\/app\.db$/);
    });

    it('is required by a job-running process only when a store is configured', () => {
      expect(problemsOf(noDatabase, { database: 'with-store', command: 'worker' })).toEqual([expect.stringMatching(/^DB_PATH: is required by `snapkeep worker`: /)]);
      // Backups disabled: the process runs no backup job, so it needs no database either.
      expect(loadConfig({}, { database: 'with-store', command: 'serve' }).store).toBeUndefined();
    });

    it('is listed with the other problems at once', () => {
      const problems = problemsOf({ BACKUP_LOCAL_DIR: '/tmp/x', PORT: 'x' }, { database: 'always' });
      expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['DB_PATH', 'MASTER_KEY', 'PORT']);
    });

    it('requireDbPath gives DB_PATH, or a settings error naming it that no retry can fix', () => {
      expect(requireDbPath(loadConfig({ ...noDatabase, DB_PATH: '/srv/app.db' }), 'to restore a database backup')).toBe('/srv/app.db');
      let thrown: unknown;
      try { requireDbPath(loadConfig(noDatabase), 'to restore a database backup'); } catch (err) { thrown = err; }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).problems).toEqual([expect.stringMatching(/^DB_PATH: is required to restore a database backup: /)]);
      expect(thrown).toMatchObject({ code: 'invalid_config', retryable: false });
    });
  });

  it('reads TRUST_PROXY as a hop count or a list of addresses, ranges and range names', () => {
    expect(loadConfig(local).trustProxy).toBeUndefined();
    expect(loadConfig({ ...local, TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ ...local, TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8, 192.0.2.10' }).trustProxy)
      .toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '192.0.2.10']);
    for (const bad of ['true', '0', '11', '10.0.0.0/33', 'proxy.example', '10.0.0.1/8/1', '::1/129', '0.0.0.0/0', '::/0', '10.0.0.0/00']) {
      const problems = problemsOf({ ...local, TRUST_PROXY: bad });
      expect(problems, bad).toHaveLength(1);
      expect(problems[0]).toMatch(/^TRUST_PROXY: /);
    }
  });

  it('reports every problem at once, never a secret value', () => {
    const secret = 'very-secret-value';
    const problems = problemsOf({ BACKUP_S3_ENDPOINT: 'http://h', BACKUP_S3_SECRET_KEY: secret, MASTER_KEY: `${secret}0`, PORT: 'x' });
    expect(problems.length).toBeGreaterThanOrEqual(4);
    expect(problems.join('\n')).not.toContain(secret);
  });
});
