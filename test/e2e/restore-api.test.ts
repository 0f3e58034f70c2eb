import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollJob, rawRequest } from '../helpers/api-client.js';
import { BROKEN_BACKUPS, liveDbState, makeDatabaseImage, sha256File, takeStrayFiles, type LiveDbState } from '../helpers/broken-backups.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { freePort, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { newBackupIdLike, openWorkspace, putObject, readSampleVector, takeTemporaryLeftovers, type RestoreWorkspace } from '../helpers/restore-harness.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { readNotes } from '../helpers/sample-database.js';

const vector = readSampleVector();
// The service's key is the vectors' key, so the shared file restores through it as it is.
const MASTER_KEY = vector.masterKey.toString('hex');

describe('restore through the HTTP API of `snapkeep serve` (real Redis and S3)', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let ws: RestoreWorkspace;
  let service: RunningService;
  let env: Record<string, string>;
  let base: string;
  let admin: string;
  let image: Buffer;
  let before: LiveDbState;
  let producer: Redis;
  let restoreQueue: Queue;
  let events: QueueEvents;
  const progress = new Map<string, string[]>();
  // Verified restores the tests made on purpose; anything else beside DB_PATH is a leftover.
  const restored: string[] = [];

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server({ bucket: 'snapkeep-restore-api' })]);
    ws = openWorkspace('s3', s3);
    image = makeDatabaseImage(ws.dbPath);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const queuePrefix = `rst${randomBytes(3).toString('hex')}`;
    env = {
      ...ws.storeEnv, DB_PATH: ws.dbPath, STATE_DIR: ws.stateDir, MASTER_KEY, REDIS_URL: redis.url, PORT: String(port),
      BACKUP_SCHEDULE_HOURS: '0', QUEUE_PREFIX: queuePrefix, BACKUP_JOB_ATTEMPTS: '3', BACKUP_JOB_BACKOFF_MS: '200',
    };
    const token = await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env);
    expect(token.code, token.stderr).toBe(0);
    admin = token.stdout.trim();
    service = await startService('serve', env);
    producer = new Redis(redis.url, { maxRetriesPerRequest: null });
    restoreQueue = new Queue('restore', { connection: producer, prefix: queuePrefix });
    // From the stream's start, so no event is missed however late the reader connects.
    events = new QueueEvents('restore', { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: queuePrefix, lastEventId: '0-0' });
    events.on('progress', ({ jobId, data }) => {
      const phase = typeof data === 'object' && data !== null && 'phase' in data ? String(data.phase) : '?';
      const seen = progress.get(jobId) ?? [];
      if (seen.at(-1) !== phase) seen.push(phase);
      progress.set(jobId, seen);
    });
    await events.waitUntilReady();
    before = liveDbState(ws.dbPath);
  });

  afterEach(() => {
    expect(liveDbState(ws.dbPath)).toEqual(before);
    // Removed before asserting, so that a leftover fails the test that left it and no other.
    const leftovers = { beside: takeStrayFiles(ws.dbPath, restored), stateTmp: takeTemporaryLeftovers(ws.stateDir) };
    expect(leftovers).toEqual({ beside: [], stateTmp: [] });
  });

  afterAll(async () => {
    // Settled, not awaited in turn: one failing close must not leave the servers after it running.
    await Promise.allSettled([events?.close(), restoreQueue?.close()]);
    producer?.disconnect();
    await Promise.allSettled([service?.stop()]);
    await Promise.allSettled([redis?.close(), s3?.close()]);
    ws?.cleanup();
  });

  const post = (path: string): Promise<Response> =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });

  async function restoreViaApi(id: string): Promise<Awaited<ReturnType<typeof pollJob>>> {
    const res = await post(`/api/backups/${id}/restore`);
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { jobId: string; statusUrl: string };
    expect(accepted.statusUrl).toBe(`/api/jobs/${accepted.jobId}`);
    return pollJob(base, accepted.statusUrl, admin);
  }

  it('answers 400 for malformed ids and 404 for an unknown backup, enqueueing nothing', async () => {
    for (const id of ['..', '%2e%2e', '%2E%2E', '..%2F..%2Fetc', '%00', `20260101T000000Z-0a0b0c0d%00`, 'x'.repeat(300), `20260101T000000Z-${'0'.repeat(292)}`]) {
      const answer = await rawRequest(base, 'POST', `/api/backups/${id}/restore`, admin);
      expect(answer.status, `${id}: ${JSON.stringify(answer.body)}`).toBe(400);
      expect((answer.body as { error: { code: string } }).error.code).toMatch(/^(invalid_backup_id|bad_request)$/);
    }
    const missing = await post('/api/backups/20200101T000000Z-00000000/restore');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('backup_not_found');
    // Refused before enqueueing: the restore queue never saw a job.
    const counts = await restoreQueue.getJobCounts();
    expect(Object.values(counts).every((n) => n === 0), JSON.stringify(counts)).toBe(true);
  });

  it('restores the shared vector file byte for byte, reporting download then verify', async () => {
    const id = '20260101T000000Z-0a0b0c0d';
    await putObject(ws.store, id, { bytes: vector.crbu, metadata: {} });
    const job = await restoreViaApi(id);
    expect(job.state, String(job.failedReason)).toBe('completed');
    expect(job.result).toMatchObject({ backupId: id, path: `${ws.dbPath}.restore.${id}`, keyIndex: 0 });
    expect(job.progress).toMatchObject({ phase: 'verify', percent: 100 });
    restored.push(`app.db.restore.${id}`);
    expect(sha256File(`${ws.dbPath}.restore.${id}`)).toBe(vector.plaintextSha256);
    await expect.poll(() => progress.get(job.id)).toEqual(['download', 'verify']);

    // The same file through the CLI, in-process and queued into the service.
    for (const args of [['--force'], ['--force', '--queue']]) {
      const cli = await runCli(['backup', 'restore', '--id', id, ...args], env);
      expect(cli.code, cli.stderr).toBe(0);
      expect(sha256File(`${ws.dbPath}.restore.${id}`)).toBe(vector.plaintextSha256);
    }
  });

  it('restores a snapkeep backup through the API and through the CLI, every row equal to the source', async () => {
    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const { backupId } = JSON.parse(created.stdout) as { backupId: string };
    const target = `${ws.dbPath}.restore.${backupId}`;
    const job = await restoreViaApi(backupId);
    expect(job.state, String(job.failedReason)).toBe('completed');
    restored.push(`app.db.restore.${backupId}`);
    expect(readNotes(target)).toEqual(readNotes(ws.dbPath));

    const again = await runCli(['backup', 'restore', '--id', backupId, '--queue'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`snapkeep: ${target} already exists`);
    const forced = await runCli(['backup', 'restore', '--id', backupId, '--force'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readNotes(target)).toEqual(readNotes(ws.dbPath));
  });

  it.each(BROKEN_BACKUPS)('fails the job for $name at once, with its reason, leaving nothing behind', async (broken) => {
    const id = newBackupIdLike();
    await putObject(ws.store, id, await broken.build(image, vector.masterKey));
    const job = await restoreViaApi(id);
    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(broken.reason);
    // Three attempts allowed, one made: no retry can fix a broken backup.
    expect(job.maxAttempts).toBe(3);
    expect(job.attemptsMade).toBe(1);
  });
});
