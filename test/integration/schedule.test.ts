import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScheduleConfig } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logging/create-logger.js';
import type { BackupResult, PruneJobData } from '../../src/queue/job-types.js';
import { createQueues, type Queues } from '../../src/queue/queues.js';
import { enqueuePruneAfterBackup, upsertSchedule } from '../../workers/runtime/schedule.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const logLines: string[] = [];
const logger = createLogger({
  level: 'info', format: 'json',
  stream: new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(chunk.toString()); done(); } }),
});

const backupResult = (backupId: string): BackupResult => ({
  backupId, key: `backups/${backupId}.crbu`, size: 1, databaseSize: 1, createdAt: new Date().toISOString(), durationMs: 1, kind: 'database', encryption: 'master-key', compression: 'none',
});

describe('upsertSchedule and the prune after a scheduled backup, on a real Redis (no workers)', () => {
  let redis: TestRedis;
  let connection: Redis;
  let queues: Queues;

  beforeAll(async () => {
    redis = await startRedis();
    connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const config = loadConfig({ QUEUE_PREFIX: `s${randomBytes(3).toString('hex')}`, BACKUP_JOB_ATTEMPTS: '4', MASTER_KEY: randomBytes(32).toString('hex') });
    queues = createQueues(config, connection);
  });
  afterAll(async () => {
    await queues?.close();
    connection?.disconnect();
    await redis?.close();
  });

  const pending = async (): Promise<string[]> =>
    (await queues.backup.getJobs(['delayed', 'waiting', 'prioritized'])).map((j) => j.id!).sort();

  it('an interval: one scheduler and one pending slot however often it is upserted; the slot keeps its time', async () => {
    const hourly: ScheduleConfig = { type: 'every', everyMs: 3_600_000 };
    await upsertSchedule(queues.backup, hourly, logger, queues.signer());
    const [first] = await queues.backup.getJobSchedulers();
    // The first upsert fires at once: the slot is now.
    expect(first).toMatchObject({ key: 'scheduled-backup', every: 3_600_000, template: { data: { trigger: 'schedule' } } });
    const slot = await pending();
    expect(slot).toEqual([`repeat:scheduled-backup:${first!.next}`]);
    // Every job the scheduler makes carries the queue's retries and history limits.
    const job = await queues.backup.getJob(slot[0]!);
    expect(job!.opts).toMatchObject({ attempts: 4, removeOnComplete: { count: 1000 } });

    for (let i = 0; i < 3; i++) await upsertSchedule(queues.backup, hourly, logger, queues.signer());
    expect(await queues.backup.getJobSchedulersCount()).toBe(1);
    expect(await pending()).toEqual(slot);
    expect((await queues.backup.getJobSchedulers())[0]!.next).toBe(first!.next);
  });

  it('a cron pattern replaces the interval, and upserting it again keeps its next slot', async () => {
    const nightly: ScheduleConfig = { type: 'cron', pattern: '0 2 * * *', tz: 'Europe/Berlin' };
    await upsertSchedule(queues.backup, nightly, logger, queues.signer());
    const [scheduler] = await queues.backup.getJobSchedulers();
    expect(scheduler).toMatchObject({ key: 'scheduled-backup', pattern: '0 2 * * *', tz: 'Europe/Berlin' });
    expect(scheduler!.every).toBeUndefined();
    // 02:00 in Berlin is 00:00 or 01:00 UTC, within the next day.
    const next = new Date(scheduler!.next!);
    expect([0, 1]).toContain(next.getUTCHours());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect(await pending()).toEqual([`repeat:scheduled-backup:${scheduler!.next}`]);

    await upsertSchedule(queues.backup, nightly, logger, queues.signer());
    expect(await queues.backup.getJobSchedulers()).toEqual([scheduler]);
    expect(await pending()).toEqual([`repeat:scheduled-backup:${scheduler!.next}`]);
  });

  it('off removes the scheduler and its pending slot, and is harmless when there is none', async () => {
    await upsertSchedule(queues.backup, { type: 'off' }, logger, queues.signer());
    expect(await queues.backup.getJobSchedulers()).toEqual([]);
    expect(await pending()).toEqual([]);
    await upsertSchedule(queues.backup, { type: 'off' }, logger, queues.signer());
    expect(await queues.backup.getJobSchedulersCount()).toBe(0);
  });

  it('enqueues one prune per scheduled backup, however often it is asked', async () => {
    const result = backupResult('20261122T040000Z-0123abcd');
    expect(await enqueuePruneAfterBackup({ queue: queues.prune, name: 'prune' }, 'default', result, logger, queues.signer())).toBe('prune-after-20261122T040000Z-0123abcd');
    await enqueuePruneAfterBackup({ queue: queues.prune, name: 'prune' }, 'default', result, logger, queues.signer());
    const jobs = await queues.prune.getJobs(['waiting']);
    expect(jobs.map((j) => [j.id, j.name, j.data])).toEqual([['prune-after-20261122T040000Z-0123abcd', 'prune', { dryRun: false, source: 'default', auth: expect.objectContaining({ v: 1 }) }]]);
  });

  it('a prune that cannot be enqueued is logged, not thrown: the backup it follows is already stored', async () => {
    // As the API connection fails fast while Redis is away.
    const unreachable = { add: () => Promise.reject(new Error("Stream isn't writeable and enableOfflineQueue options is false")) } as unknown as Queue<PruneJobData>;
    const jobId = await enqueuePruneAfterBackup({ queue: unreachable as unknown as Queue, name: 'prune' }, 'default', backupResult('20261122T050000Z-0123abcd'), logger, queues.signer());
    expect(jobId).toBeUndefined();
    expect(logLines.some((l) => l.includes('could not enqueue the prune') && l.includes('prune-after-20261122T050000Z-0123abcd'))).toBe(true);
  });
});
