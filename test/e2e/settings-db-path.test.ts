import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { freePort, removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

/**
 * DB_PATH is required only where the database is read or written: `backup create` in its own
 * process, the restore of a database backup, and the `serve`/`worker` processes that run those
 * jobs. An ops box without the database lists, prunes, enqueues and restores archives without it.
 */
describe('DB_PATH only where the database is read or written', () => {
  let dir: string;
  let dbPath: string;
  let withDb: Record<string, string>;
  let ops: Record<string, string>;
  const ids: string[] = [];
  let archiveId = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-dbpath-'));
    dbPath = join(dir, 'app.db');
    createSampleDatabase(dbPath, 100);
    ops = { MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups') };
    withDb = { ...ops, DB_PATH: dbPath };
    for (let i = 0; i < 2; i++) {
      const created = await runCli(['backup', 'create', '--json'], withDb);
      expect(created.code, created.stderr).toBe(0);
      ids.push((JSON.parse(created.stdout) as { backupId: string }).backupId);
    }
    const tree = join(dir, 'config');
    mkdirSync(tree);
    writeFileSync(join(tree, 'app.toml'), 'name = "x"\n');
    const archive = await runCli(['backup', 'create', '--json'], { ...withDb, BACKUP_INCLUDE_PATHS: tree });
    expect(archive.code, archive.stderr).toBe(0);
    archiveId = (JSON.parse(archive.stdout) as { backupId: string }).backupId;
  });
  afterAll(() => { if (dir) removeDir(dir); });

  const backupFiles = (): string[] => readdirSync(join(dir, 'backups')).filter((f) => !f.startsWith('.')).sort();
  const besideDatabase = (): string[] => readdirSync(dir).filter((f) => f.includes('.restore.'));

  it('backup list works without DB_PATH', async () => {
    const listed = await runCli(['backup', 'list', '--json'], ops);
    expect(listed.code, listed.stderr).toBe(0);
    const backups = (JSON.parse(listed.stdout) as { backups: Array<{ id: string; key: string }> }).backups;
    expect(backups.map((b) => b.id)).toEqual([archiveId, ...ids].sort().reverse());
    const table = await runCli(['backup', 'list'], ops);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(ids[0]);
  });

  it('token commands work without DB_PATH', async () => {
    const token = await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], ops);
    expect(token.code, token.stderr).toBe(0);
    expect((await runCli(['token', 'list', '--json'], ops)).code).toBe(0);
  });

  it('backup create without DB_PATH exits 2 naming DB_PATH, before doing anything', async () => {
    const before = backupFiles();
    const result = await runCli(['backup', 'create'], ops);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^snapkeep: DB_PATH: is required by `snapkeep backup create`: /m);
    expect(result.stdout).toBe('');
    expect(backupFiles()).toEqual(before);
  });

  it('restoring a database backup without DB_PATH exits 2 naming DB_PATH, writing nothing', async () => {
    const result = await runCli(['backup', 'restore', '--id', ids[0]!], ops);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^snapkeep: DB_PATH: is required to restore a database backup: /m);
    expect(result.stdout).toBe('');
    expect(besideDatabase()).toEqual([]);
    expect(existsSync(join(dir, 'state', 'restore'))).toBe(false);
  });

  it('restoring an archive without DB_PATH works: it goes under STATE_DIR', async () => {
    const result = await runCli(['backup', 'restore', '--id', archiveId, '--json'], ops);
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { path: string }).path).toBe(join(dir, 'state', 'restore', archiveId));
    expect(readdirSync(join(dir, 'state', 'restore', archiveId))).toContain('database');
  });

  it('serve and worker with a store exit 2 naming DB_PATH', async () => {
    for (const role of ['worker', 'serve'] as const) {
      const result = await runCli([role], { ...ops, REDIS_URL: 'redis://127.0.0.1:1' });
      expect(result.code, role).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`^snapkeep: DB_PATH: is required by \`snapkeep ${role}\`: `, 'm'));
    }
  });

  describe('an api process without DB_PATH, a worker with it', () => {
    let redis: TestRedis;
    let api: RunningService | undefined;
    let worker: RunningService | undefined;
    let queued: Record<string, string>;

    beforeAll(async () => {
      redis = await startRedis();
      const common = { REDIS_URL: redis.url, QUEUE_PREFIX: `dbp${randomBytes(3).toString('hex')}`, BACKUP_SCHEDULE_HOURS: '0' };
      queued = { ...ops, ...common };
      api = await startService('api', { ...queued, PORT: String(await freePort()) });
      worker = await startService('worker', { ...withDb, ...common });
    });
    afterAll(async () => {
      await api?.stop();
      await worker?.stop();
      await redis?.close();
    });

    it('backup create --queue and backup restore --queue run without DB_PATH here: the worker has it', async () => {
      const created = await runCli(['backup', 'create', '--queue', '--json'], queued);
      expect(created.code, created.stderr).toBe(0);
      const { backupId } = JSON.parse(created.stdout) as { backupId: string };
      ids.push(backupId);
      const restored = await runCli(['backup', 'restore', '--id', backupId, '--queue'], queued);
      expect(restored.code, restored.stderr).toBe(0);
      const target = `${dbPath}.restore.${backupId}`;
      expect(readNotes(target)).toEqual(readNotes(dbPath));
      // The swap steps name the worker's database, which this process was never told.
      expect(restored.stdout).toContain(`mv ${dbPath} ${dbPath}.old && mv ${target} ${dbPath}`);
      expect(api!.logs()).toContain('snapkeep started');
    });
  });

  it('backup prune works without DB_PATH: a dry run, then for real', async () => {
    const all = [archiveId, ...ids].sort().reverse();
    const dry = await runCli(['backup', 'prune', '--dry-run', '--json'], ops);
    expect(dry.code, dry.stderr).toBe(0);
    // All from today: the newest stays, the rest go.
    expect(JSON.parse(dry.stdout)).toMatchObject({ kept: [all[0]], deleted: all.slice(1), dryRun: true });
    const real = await runCli(['backup', 'prune', '--json'], ops);
    expect(real.code, real.stderr).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ kept: [all[0]], deleted: all.slice(1), dryRun: false });
    expect(backupFiles()).toEqual([expect.stringMatching(new RegExp(`^${all[0]}\\.`))]);
  });
});
