import { copyFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobDatabase } from '../helpers/blob-database.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { callApi, isFinished, prepareFaultBed, waitForJob, type FaultBed } from '../helpers/fault-bed.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { mountTmpfs, type SmallFilesystem } from '../helpers/small-filesystem.js';

const MiB = 1024 * 1024;

/**
 * Fault 5: DB_PATH's directory is a 10 MiB tmpfs holding a 6 MiB database, so a restore beside it
 * (another 6 MiB) fills the disk for real, through the built CLI and through a queued job. The
 * backups and STATE_DIR live on the ordinary disk, as they would on a server.
 */
describe('fault: the disk fills during a restore', () => {
  let redis: TestRedis;
  let bed: FaultBed;
  let disk: SmallFilesystem | undefined;
  let skipReason = '';
  let service: RunningService | undefined;
  let backupId = '';

  beforeAll(async () => {
    redis = await startRedis();
    bed = await prepareFaultBed({ name: 'full', redisUrl: redis.url, dbSubdir: 'live' });
    const mounted = mountTmpfs(dirname(bed.dbPath), 10 * MiB);
    if ('unavailable' in mounted) {
      skipReason = mounted.unavailable;
      return;
    }
    disk = mounted;
    // Built elsewhere and copied in: creating it in place would need room for its WAL as well.
    const source = join(bed.dir, 'source.db');
    createBlobDatabase(source, 6);
    copyFileSync(source, bed.dbPath);
    const created = await runCli(['backup', 'create', '--json'], bed.env);
    if (created.code !== 0) throw new Error(created.stderr);
    backupId = (JSON.parse(created.stdout) as { backupId: string }).backupId;
    service = await startService('serve', bed.env);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    disk?.unmount();
    await redis?.close();
    if (bed) removeDir(bed.dir);
  });

  // The live database's own -wal and -shm (its snapshot made them) are the application's, not ours.
  const leftBehind = (): string[] => readdirSync(dirname(bed.dbPath)).filter((f) => !/^app\.db(-wal|-shm)?$/.test(f));

  it('`snapkeep backup restore` says no space is left, exits 1 and leaves no file', async (ctx) => {
    if (!disk) ctx.skip(skipReason);
    const free = disk!.freeBytes();
    expect(free).toBeLessThan(statSync(bed.dbPath).size);
    const restored = await runCli(['backup', 'restore', '--id', backupId], bed.env);
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain(`no space left on the disk of ${dirname(bed.dbPath)} while writing the restore`);
    expect(leftBehind()).toEqual([]);
    expect(disk!.freeBytes()).toBe(free);
  });

  it('a queued restore fails at once with code no_space, not retried, and leaves no file', async (ctx) => {
    if (!disk) ctx.skip(skipReason);
    const free = disk!.freeBytes();
    const requested = await callApi<{ jobId: string }>(bed, 'POST', `/api/backups/${backupId}/restore`, {});
    expect(requested.status).toBe(202);
    const job = await waitForJob(bed, requested.body.jobId, isFinished, 20_000);
    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(/^no space left on the disk of .* while writing the restore; free space and try again$/);
    // A full disk stays full without the operator: retrying would only fill it again.
    expect(job.attemptsMade).toBe(1);
    expect(leftBehind()).toEqual([]);
    expect(disk!.freeBytes()).toBe(free);
  });
});
