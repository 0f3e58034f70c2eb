import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_LOCK_MS, STALLED_CHECK_MS } from '../../workers/runtime/start-workers.js';
import { blobDigest, createBlobDatabase } from '../helpers/blob-database.js';
import { startService, type RunningService } from '../helpers/cli.js';
import { callApi, isFinished, jobNow, prepareFaultBed, waitForJob, type FaultBed } from '../helpers/fault-bed.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { downloadDecrypted, listKeys, openUploads } from '../helpers/s3-inspect.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const MiB = 1024 * 1024;
// What the README promises: a dead worker's job runs again within lock + stalled check, and then
// takes as long as a backup takes (a second or two here).
const RECOVERY_BOUND_MS = JOB_LOCK_MS + STALLED_CHECK_MS;
const BACKUP_RUN_MS = 10_000;

const snapshotTemporaries = (stateDir: string): string[] => {
  const tmp = join(stateDir, 'tmp');
  return existsSync(tmp) ? readdirSync(tmp).filter((f) => f.startsWith('snapshot-')) : [];
};

/**
 * Fault 2: the worker process running a backup is SIGKILLed mid-upload and restarted, as systemd or
 * a container runtime would. The `api` process stays up, as it would behind a load balancer.
 */
describe('fault: SIGKILL of the worker running a backup', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let proxy: TcpProxy;
  let bed: FaultBed;
  const services: RunningService[] = [];

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server({ bucket: 'faults-sigkill' })]);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
    bed = await prepareFaultBed({
      name: 'kill', redisUrl: redis.url,
      s3: { endpoint: proxy.url, bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    createBlobDatabase(bed.dbPath, 20);
    services.push(await startService('api', bed.env));
  }, 60_000);

  afterAll(async () => {
    for (const s of services) await s.stop('SIGKILL');
    await proxy?.close();
    await Promise.all([redis?.close(), s3?.close()]);
    if (bed) removeDir(bed.dir);
  });

  it('the restarted worker cleans the dead run\'s snapshot and completes the job within the stated bound', async () => {
    const first = await startService('worker', bed.env);
    services.push(first);
    // 20 MiB at 2 MiB/s: the upload would take ten seconds; the kill lands two seconds in.
    proxy.throttle(2 * MiB);
    const requested = await callApi<{ jobId: string }>(bed, 'POST', '/api/backups');
    expect(requested.status).toBe(202);
    const { jobId } = requested.body;
    await proxy.whenBytesUp(4 * MiB);
    await first.stop('SIGKILL');
    const killedAt = Date.now();
    proxy.throttle(null);

    expect((await jobNow(bed, jobId)).state).toBe('active');
    // The dead run's snapshot is still there: the restart must be what removes it.
    expect(snapshotTemporaries(bed.stateDir)).toHaveLength(1);

    const restarted = await startService('worker', bed.env);
    services.push(restarted);
    expect(snapshotTemporaries(bed.stateDir)).toEqual([]);

    const job = await waitForJob(bed, jobId, isFinished, RECOVERY_BOUND_MS + BACKUP_RUN_MS);
    const recoveredInMs = Date.now() - killedAt;
    expect(job.state, job.failedReason ?? '').toBe('completed');
    expect(recoveredInMs).toBeLessThan(RECOVERY_BOUND_MS + BACKUP_RUN_MS);
    console.info(`[fault 2] job completed ${recoveredInMs} ms after SIGKILL (bound ${RECOVERY_BOUND_MS} ms + the backup itself)`);

    const { backupId, key } = job.result as { backupId: string; key: string };
    // The result's key is the full key in the bucket (BACKUP_S3_PREFIX included).
    expect(await listKeys(s3, 'backups/')).toEqual([key]);
    expect(key).toBe(`backups/${backupId}.crbu`);
    const restored = join(bed.dir, `${backupId}.db`);
    await downloadDecrypted(s3, key, bed.masterKey, restored);
    expect(blobDigest(restored)).toBe(blobDigest(bed.dbPath));
    expect(snapshotTemporaries(bed.stateDir)).toEqual([]);
    // The killed attempt's multipart upload stays open, invisible as a backup: no live process knows
    // its id, so only the bucket's AbortIncompleteMultipartUpload lifecycle rule removes it (README).
    const open = await openUploads(s3, '');
    expect(open.length).toBeLessThanOrEqual(1);
    expect(open).not.toContain(key);
  }, 90_000);
});
