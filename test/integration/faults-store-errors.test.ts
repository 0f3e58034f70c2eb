import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enqueueBackup } from '../../src/queue/enqueue.js';
import type { S3StoreOptions } from '../../src/storage/s3-store.js';
import { startInProcessWorkers, type InProcessWorkers } from '../helpers/in-process-workers.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { listKeys } from '../helpers/s3-inspect.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const CREDENTIALS_MESSAGE = 'the S3 store refused the credentials (check BACKUP_S3_ACCESS_KEY and BACKUP_S3_SECRET_KEY)';

/**
 * Fault 6: the store answers errors. Backup jobs run on real workers (BACKUP_JOB_ATTEMPTS=3) against
 * s3rver, directly or through a proxy that answers 503 or stops answering. The S3 store gets a
 * one-second idle timeout here, which no setting exposes, so a hang costs a second, not thirty.
 */
describe('fault: the S3 store answers errors', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let proxy: TcpProxy;
  let workers: InProcessWorkers | undefined;

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server({ bucket: 'faults-errors' })]);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
  });
  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    proxy.setMode('pass', { dropOpen: true });
  });
  afterAll(async () => {
    await proxy?.close();
    await Promise.all([redis?.close(), s3?.close()]);
  });

  const s3Env = (overrides: Record<string, string> = {}): Record<string, string> => ({
    BACKUP_S3_ENDPOINT: s3.endpoint, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId,
    BACKUP_S3_SECRET_KEY: s3.secretAccessKey, BACKUP_S3_PREFIX: `p${Math.random().toString(16).slice(2, 10)}/`, ...overrides,
  });
  const start = async (env: Record<string, string>, options: S3StoreOptions = {}): Promise<InProcessWorkers> => {
    workers = await startInProcessWorkers(redis.url, env, { idleTimeoutMs: 1000, ...options });
    return workers;
  };
  const uploadsSince = (from: number): number => s3.requests.slice(from).filter((r) => r.method === 'PUT' || r.method === 'POST').length;

  it.each([
    ['a wrong secret key (SignatureDoesNotMatch)', { BACKUP_S3_SECRET_KEY: 'not-the-secret' }],
    ['an unknown access key (InvalidAccessKeyId)', { BACKUP_S3_ACCESS_KEY: 'NOBODY' }],
  ])('403 for %s fails the job at once, naming the settings, with no retry', async (_name, overrides) => {
    const w = await start(s3Env(overrides));
    const requestsBefore = s3.requests.length;
    const started = Date.now();
    const { jobId } = await enqueueBackup(w.queues, { trigger: 'api' });
    const job = await w.finished(jobId);
    expect(job).toMatchObject({ state: 'failed', attemptsMade: 1, maxAttempts: 3, failedReason: CREDENTIALS_MESSAGE });
    // Not retried by the job, and not by the SDK either: one upload request, answered quickly.
    expect(uploadsSince(requestsBefore)).toBe(1);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(w.logs.join('')).not.toContain('not-the-secret');
  });

  it('a bucket that does not exist says so, naming BACKUP_S3_BUCKET, with no retry', async () => {
    const w = await start(s3Env({ BACKUP_S3_BUCKET: 'no-such-bucket' }));
    const { jobId } = await enqueueBackup(w.queues, { trigger: 'api' });
    const job = await w.finished(jobId);
    expect(job).toMatchObject({
      state: 'failed', attemptsMade: 1, failedReason: 'bucket "no-such-bucket" does not exist (check BACKUP_S3_BUCKET)',
    });
  });

  it('503 answers are retried, by the SDK and then by the job, which completes once S3 recovers', async () => {
    const env = s3Env({ BACKUP_S3_ENDPOINT: proxy.url });
    const w = await start(env, { maxAttempts: 2 });
    proxy.setMode('http-503', { dropOpen: true });
    const { jobId } = await enqueueBackup(w.queues, { trigger: 'api' });
    const retrying = await w.until(jobId, (s) => s.state === 'delayed' || s.state === 'failed');
    expect(retrying).toMatchObject({ state: 'delayed', attemptsMade: 1 });
    expect(retrying.failedReason).toBe('the S3 store is unreachable: HTTP 503 ServiceUnavailable');
    // The SDK tried twice (maxAttempts 2) before the attempt gave up.
    expect(proxy.answered503).toBe(2);
    proxy.setMode('pass');
    const job = await w.finished(jobId);
    expect(job).toMatchObject({ state: 'completed', attemptsMade: 2 });
    // The result's key is the object's full key in the bucket, prefix included.
    expect(await listKeys(s3, env.BACKUP_S3_PREFIX!)).toEqual([(job.result as { key: string }).key]);
  });

  it('a server that stops answering times out, and the job is retried to completion', async () => {
    const env = s3Env({ BACKUP_S3_ENDPOINT: proxy.url });
    const w = await start(env, { maxAttempts: 1 });
    proxy.setMode('hang', { dropOpen: true });
    const { jobId } = await enqueueBackup(w.queues, { trigger: 'api' });
    const retrying = await w.until(jobId, (s) => s.state === 'delayed' || s.state === 'failed', 15_000);
    expect(retrying).toMatchObject({ state: 'delayed', attemptsMade: 1 });
    expect(retrying.failedReason).toBe('the S3 store is unreachable: timed out');
    expect(proxy.hungConnections).toBeGreaterThanOrEqual(1);
    proxy.setMode('pass', { dropOpen: true });
    const job = await w.finished(jobId);
    expect(job).toMatchObject({ state: 'completed', attemptsMade: 2 });
    expect(await listKeys(s3, env.BACKUP_S3_PREFIX!)).toHaveLength(1);
  });
});
