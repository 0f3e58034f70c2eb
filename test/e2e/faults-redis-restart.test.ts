import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULER_ID } from '../../src/queue/queues.js';
import { blobDigest, createBlobDatabase } from '../helpers/blob-database.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { callApi, isFinished, jobNow, prepareFaultBed, waitForJob, type FaultBed } from '../helpers/fault-bed.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const MiB = 1024 * 1024;
const OUTAGE_MS = 2_000;

/** healthUntil polls `/api/health` until it answers `status`, and returns the body and when. */
async function healthUntil(bed: FaultBed, status: number, timeoutMs = 15_000): Promise<{ body: Record<string, unknown>; at: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${bed.base}/api/health`);
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status === status) return { body, at: Date.now() };
    if (Date.now() > deadline) throw new Error(`health stayed ${res.status}: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * restartRedis stops Redis (SIGKILL), checks that health says so for as long as it lasts, starts
 * it again on the same port and returns how long health took to say ok once Redis was back.
 */
async function restartRedis(redis: TestRedis, bed: FaultBed): Promise<number> {
  await redis.stop();
  const down = await healthUntil(bed, 503, 5_000);
  expect(down.body).toMatchObject({ status: 'degraded', redis: 'down' });
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  expect((await healthUntil(bed, 503, 1_000)).body).toMatchObject({ redis: 'down' });
  await redis.start();
  const startedAt = Date.now();
  const up = await healthUntil(bed, 200);
  expect(up.body).toMatchObject({ status: 'ok', redis: 'up' });
  return up.at - startedAt;
}

/**
 * Fault 3a: Redis without persistence restarts while the service idles. It comes back empty, so the
 * service must not only reconnect but also put back what it keeps in Redis: the backup schedule.
 */
describe('fault: Redis restarts while `snapkeep serve` is idle', () => {
  let redis: TestRedis;
  let bed: FaultBed;
  let service: RunningService | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    bed = await prepareFaultBed({ name: 'rdidle', redisUrl: redis.url, env: { BACKUP_SCHEDULE_HOURS: '24' } });
    createSampleDatabase(bed.dbPath, 300);
    service = await startService('serve', bed.env);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    await redis?.close();
    if (bed) removeDir(bed.dir);
  });

  it('reports redis down while it lasts, reconnects by itself, runs the next backup and keeps its schedule', async () => {
    const recoveredInMs = await restartRedis(redis, bed);
    console.info(`[fault 3a] health ok ${recoveredInMs} ms after Redis came back`);
    expect(service!.child.exitCode).toBeNull();

    const requested = await callApi<{ jobId: string }>(bed, 'POST', '/api/backups');
    expect(requested.status).toBe(202);
    const job = await waitForJob(bed, requested.body.jobId, isFinished, 20_000);
    expect(job.state, job.failedReason ?? '').toBe('completed');

    // The restarted Redis was empty: the schedule is back only because the service set it again.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue('backup', { connection, prefix: bed.env.QUEUE_PREFIX! });
    try {
      await expect.poll(async () => (await queue.getJobScheduler(SCHEDULER_ID))?.every, { timeout: 10_000 }).toBe(24 * 3600 * 1000);
      // And the backup queue's limit: BACKUP_CONCURRENCY (default 2) across every worker; one per source is a lock.
      expect(await queue.getGlobalConcurrency()).toBe(2);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});

/**
 * Fault 3b: Redis with an append-only file (fsync always) is killed while one restore runs and
 * another waits behind it, and restarts. The waiting job must survive and run; the running one
 * must finish and be recorded.
 */
describe('fault: Redis restarts while a job is waiting', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let proxy: TcpProxy;
  let bed: FaultBed;
  let service: RunningService | undefined;

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis({ appendOnly: true }), startS3Server({ bucket: 'faults-redis' })]);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
    bed = await prepareFaultBed({
      name: 'rdwait', redisUrl: redis.url,
      s3: { endpoint: proxy.url, bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    createBlobDatabase(bed.dbPath, 16);
    service = await startService('serve', bed.env);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    await proxy?.close();
    await Promise.all([redis?.close(), s3?.close()]);
    if (bed) removeDir(bed.dir);
  });

  it('keeps the waiting restore across the restart and runs it; both restores verify', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const created = await runCli(['backup', 'create', '--json'], bed.env);
      expect(created.code, created.stderr).toBe(0);
      ids.push((JSON.parse(created.stdout) as { backupId: string }).backupId);
    }
    // 16 MiB at 4 MiB/s: the first restore downloads for about four seconds, holding the restore worker.
    proxy.throttle(4 * MiB);
    const jobIds: string[] = [];
    for (const id of ids) {
      const requested = await callApi<{ jobId: string }>(bed, 'POST', `/api/backups/${id}/restore`, {});
      expect(requested.status).toBe(202);
      jobIds.push(requested.body.jobId);
    }
    const [runningId, waitingId] = jobIds as [string, string];
    await waitForJob(bed, runningId, (j) => j.state === 'active', 5_000);
    expect((await jobNow(bed, waitingId)).state).toBe('waiting');

    const recoveredInMs = await restartRedis(redis, bed);
    proxy.throttle(null);
    console.info(`[fault 3b] health ok ${recoveredInMs} ms after Redis came back`);
    expect(service!.child.exitCode).toBeNull();

    const source = blobDigest(bed.dbPath);
    for (const [i, jobId] of jobIds.entries()) {
      const job = await waitForJob(bed, jobId, isFinished, 30_000);
      expect(job.state, job.failedReason ?? '').toBe('completed');
      expect(blobDigest(join(bed.dir, `app.db.restore.${ids[i]}`))).toBe(source);
    }
  });
});
