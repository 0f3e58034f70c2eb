import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobDigest, createBlobDatabase } from '../helpers/blob-database.js';
import { startService, type RunningService } from '../helpers/cli.js';
import { callApi, isFinished, prepareFaultBed, waitForJob, type FaultBed } from '../helpers/fault-bed.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { downloadDecrypted, listKeys, openUploads } from '../helpers/s3-inspect.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const MiB = 1024 * 1024;
const OUTAGE_MS = 3_000;

/**
 * Fault 1: the S3 server dies in the middle of a multipart upload and comes back seconds later on
 * the same address. A proxy between snapkeep and s3rver plays the dying server, so s3rver keeps its
 * state (the parts already received) exactly as a restarted S3 endpoint would.
 */
describe('fault: S3 dies during a backup upload and comes back', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let proxy: TcpProxy;
  let bed: FaultBed;
  let service: RunningService | undefined;

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server({ bucket: 'faults-outage' })]);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
    bed = await prepareFaultBed({
      name: 's3out', redisUrl: redis.url,
      s3: { endpoint: proxy.url, bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      // Enough attempts, 1 s apart and doubling, to outlast the outage.
      env: { BACKUP_JOB_ATTEMPTS: '5', BACKUP_JOB_BACKOFF_MS: '1000' },
    });
    createBlobDatabase(bed.dbPath, 40);
    service = await startService('serve', bed.env);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    await proxy?.close();
    await Promise.all([redis?.close(), s3?.close()]);
    if (bed) removeDir(bed.dir);
  });

  it('retries the job to completion: one object, equal to the source, no multipart upload left open', async () => {
    // 40 MiB at 8 MiB/s: the upload lasts about five seconds, so the outage lands inside it.
    proxy.throttle(8 * MiB);
    const requested = await callApi<{ jobId: string }>(bed, 'POST', '/api/backups');
    expect(requested.status).toBe(202);
    const { jobId } = requested.body;

    await proxy.whenBytesUp(12 * MiB);
    await proxy.kill();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    proxy.throttle(null);
    await proxy.revive();
    const revivedAt = Date.now();

    const job = await waitForJob(bed, jobId, isFinished, 60_000);
    const recoveredInMs = Date.now() - revivedAt;
    expect(job.state, job.failedReason ?? '').toBe('completed');
    // The outage cost at least one attempt: the SDK's own retries could not span it.
    expect(job.attemptsMade).toBeGreaterThanOrEqual(2);
    console.info(`[fault 1] S3 down ${OUTAGE_MS} ms; job completed ${recoveredInMs} ms after S3 came back, attempt ${job.attemptsMade}`);

    const { backupId, key } = job.result as { backupId: string; key: string };
    // The result's key is the full key in the bucket (BACKUP_S3_PREFIX included).
    expect(await listKeys(s3, 'backups/')).toEqual([key]);
    expect(key).toBe(`backups/${backupId}.crbu`);
    expect(await openUploads(s3, '')).toEqual([]);
    const restored = join(bed.dir, `${backupId}.db`);
    await downloadDecrypted(s3, key, bed.masterKey, restored);
    expect(blobDigest(restored)).toBe(blobDigest(bed.dbPath));
  });
});
