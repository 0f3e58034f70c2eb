import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEntry } from '../../src/backups/list-backups.js';
import type { PruneResult } from '../../src/queue/job-types.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';
import { freePort, removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

/**
 * Issue 13, findings 6 and 8, end to end with the built CLI and `snapkeep serve`: someone who can
 * write to BACKUP_LOCAL_DIR plants a backup dated 2099 and damages one sidecar, and someone who
 * can write to Redis sets the last-success field by hand.
 */
const DAY = 86_400_000;
const idAt = (time: number, suffix: string): string => `${new Date(time).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}-${suffix}`;

describe('planted and damaged backups, and a hand-set last-success time', () => {
  let redis: TestRedis;
  let dir: string;
  let backups: string;
  let env: Record<string, string>;
  let service: RunningService | undefined;
  let real: { backupId: string; createdAt: string };
  const planted = '20991231T235959Z-deadbeef';
  const damaged = idAt(Date.now() - 3 * DAY, '0badcafe');
  const old = idAt(Date.now() - 5 * DAY, '0000000a');

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-planted-'));
    backups = join(dir, 'backups');
    createSampleDatabase(join(dir, 'app.db'), 50);
    env = {
      DB_PATH: join(dir, 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: backups,
      REDIS_URL: redis.url, QUEUE_PREFIX: `pl${randomBytes(3).toString('hex')}`, PORT: String(await freePort()), BACKUP_SCHEDULE_HOURS: '0',
      BACKUP_RETAIN_DAILY_DAYS: '1', BACKUP_RETAIN_WEEKLY_WEEKS: '0',
    };
    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    real = JSON.parse(created.stdout) as { backupId: string; createdAt: string };
    // The intruder's files: a name for 2099, an age backup with a damaged sidecar, and an old backup.
    writeFileSync(join(backups, `${planted}.tar.age`), 'age-encryption.org/v1\n-> X25519 planted\n');
    writeFileSync(join(backups, `${damaged}.tar.age`), 'age-encryption.org/v1\n-> scrypt c2FsdA 18\n');
    writeFileSync(join(backups, `.${damaged}.tar.age.meta.json`), '{"snapkeep-encryption":"passph');
    writeFileSync(join(backups, `${old}.crbu`), 'x');
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await redis?.close();
    if (dir) removeDir(dir);
  });

  it('backup list goes on: the damaged one as unknown naming its sidecar, the planted one last and flagged', async () => {
    const listed = await runCli(['backup', 'list', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const entries = (JSON.parse(listed.stdout) as { backups: BackupEntry[] }).backups;
    expect(entries.map((b) => [b.id, b.encryption, b.future ?? false])).toEqual([
      [real.backupId, 'master-key', false], [damaged, 'unknown', false], [old, 'master-key', false], [planted, 'public-key', true],
    ]);
    expect(entries[1]!.error).toContain(join(backups, `.${damaged}.tar.age.meta.json`));
    const table = await runCli(['backup', 'list'], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`${damaged} .* unknown`));
  });

  it('the service counts the real backup, not the planted one, and a hand-set time does not move the gauge', async () => {
    const token = await runCli(['token', 'create', '--name', 'scraper', '--role', 'viewer'], env);
    expect(token.code, token.stderr).toBe(0);
    service = await startService('serve', env);
    const gauge = async (): Promise<number | undefined> => {
      const res = await fetch(`http://127.0.0.1:${env.PORT}/metrics`, { headers: { authorization: `Bearer ${token.stdout.trim()}` } });
      expect(res.status).toBe(200);
      return sampleValue(parsePrometheusText(await res.text()), 'snapkeep_last_successful_backup_timestamp_seconds');
    };
    // The worker seeds the time from the store's listing in the background at start.
    const deadline = Date.now() + 15_000;
    while ((await gauge()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await gauge()).toBe(Math.floor(Date.parse(real.createdAt) / 1000));
    expect(service.logs()).toContain('backup dated in the future');

    const raw = new Redis(redis.url);
    try {
      await raw.hset(`${env.QUEUE_PREFIX}:stats`, 'last_success:backup', '9999999999');
    } finally {
      raw.disconnect();
    }
    expect(await gauge()).toBe(0);
    await service.stop();
    service = undefined;
  });

  it('a prune keeps the planted one as future, the damaged one it cannot read, and the old one it cannot vouch for, counting only the real backup', async () => {
    const run = await runCli(['backup', 'prune', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as PruneResult;
    // The old `.crbu` carries no authenticated record while the real backup does: it stays out of
    // the plan (workers/prune/unrecorded-backups.ts), neither counted nor deleted.
    expect(result.deleted).toEqual([]);
    expect(result.reasons).toEqual({
      [old]: ['unverified origin'],
      [planted]: ['future'],
      [real.backupId]: [`daily ${real.createdAt.slice(0, 10)}`, 'newest'],
      [damaged]: ['unreadable metadata'],
    });
    expect(run.stderr).toContain('backup dated in the future');
    expect(run.stderr).toContain('backup metadata unreadable');
  });
});
