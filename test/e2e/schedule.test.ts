import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupResult, PruneResult } from '../../src/queue/job-types.js';
import { startService, type RunningService } from '../helpers/cli.js';
import { freePort, removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

// BACKUP_SCHEDULE_HOURS=0.001 is 3.6 s: about five periods in the 20 s this file watches.
const HOURS = '0.001';
const EVERY_MS = 3600;
const SCHEDULED = 'repeat:scheduled-backup:';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The slot a scheduler-made job belongs to: its id is `repeat:scheduled-backup:{millis}`. */
const slotOf = (job: Job): number => Number(job.id!.slice(SCHEDULED.length));

describe('schedule: two serve processes on one Redis', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let dir: string;
  let client: Redis;
  const services: RunningService[] = [];
  const queues: Queue[] = [];
  let env: (name: string, extra?: Record<string, string>) => Promise<Record<string, string>>;
  const prefix = `sched${randomBytes(3).toString('hex')}`;
  const failingPrefix = `fail${randomBytes(3).toString('hex')}`;
  let failing: RunningService;

  const start = async (e: Record<string, string>): Promise<RunningService> => {
    const service = await startService('serve', e);
    services.push(service);
    return service;
  };
  const queue = (name: string, queuePrefix = prefix): Queue => {
    const q = new Queue(name, { connection: client, prefix: queuePrefix });
    queues.push(q);
    return q;
  };

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server({ bucket: 'snapkeep-schedule' })]);
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on('error', () => undefined); // reconnects on its own; afterAll stops Redis before it
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-schedule-'));
    createSampleDatabase(join(dir, 'app.db'), 200);
    const masterKey = randomBytes(32).toString('hex');
    env = async (name, extra = {}) => ({
      DB_PATH: join(dir, 'app.db'), MASTER_KEY: masterKey, STATE_DIR: join(dir, `state-${name}`), PORT: String(await freePort()),
      REDIS_URL: redis.url, QUEUE_PREFIX: prefix, BACKUP_SCHEDULE_HOURS: HOURS, BACKUP_JOB_BACKOFF_MS: '200',
      BACKUP_S3_ENDPOINT: s3.endpoint, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId,
      BACKUP_S3_SECRET_KEY: s3.secretAccessKey, ...extra,
    });
    // A third process on its own queue prefix whose every backup fails (DB_PATH names no file); it
    // runs alongside the other two so the whole file stays within the ~20 s the schedule needs.
    failing = await start(await env('failing', {
      QUEUE_PREFIX: failingPrefix, DB_PATH: join(dir, 'missing.db'), BACKUP_S3_PREFIX: 'failing/', BACKUP_JOB_ATTEMPTS: '2',
    }));
  });

  afterAll(async () => {
    // SIGKILL whatever a failed test left running: a stray serve would keep backing up forever.
    for (const s of services) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await Promise.all(queues.map((q) => q.close()));
    client?.disconnect();
    await Promise.all([redis?.close(), s3?.close()]);
    if (dir) removeDir(dir);
  });

  const listStore = async (): Promise<string[]> => {
    const s3Client = new S3Client({
      endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const out = await s3Client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'backups/' }));
    s3Client.destroy();
    return (out.Contents ?? []).map((o) => o.Key!.slice('backups/'.length).replace(/\..*$/, ''));
  };

  it('backs up once per period whichever process runs it, with a prune after each, across a restart', async () => {
    const backupQueue = queue('backup');
    const pruneQueue = queue('prune');
    const a = await start(await env('a'));
    const bEnv = await env('b');
    let b = await start(bEnv);
    const started = Date.now();
    expect(await backupQueue.getJobSchedulers()).toHaveLength(1);

    // Restart one process halfway: its upsert must neither fire an extra backup nor drop the schedule.
    await sleep(10_000);
    await b.stop('SIGTERM');
    expect(await backupQueue.getJobSchedulersCount()).toBe(1);
    b = await start(bEnv);
    expect(await backupQueue.getJobSchedulersCount()).toBe(1);
    const [scheduler] = await backupQueue.getJobSchedulers();
    expect(scheduler).toMatchObject({ key: 'scheduled-backup', every: EVERY_MS, template: { data: { trigger: 'schedule' } } });

    await sleep(Math.max(0, 20_000 - (Date.now() - started)));
    const stopped = Date.now();
    // SIGTERM lets a running backup finish; the prune it enqueued may still be waiting afterwards.
    await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);

    const backups = await backupQueue.getJobs(['completed', 'failed', 'active', 'waiting', 'prioritized']);
    const failed = backups.filter((j) => j.failedReason);
    expect(failed.map((j) => j.failedReason)).toEqual([]);
    // Every backup came from the scheduler, each from its own slot, the slots one period apart.
    expect(backups.every((j) => j.id!.startsWith(SCHEDULED))).toBe(true);
    const done = backups.filter((j) => j.finishedOn).sort((x, y) => slotOf(x) - slotOf(y));
    expect(done.length).toBeGreaterThanOrEqual(5);
    const slots = done.map(slotOf);
    expect(slots.slice(1).map((s, i) => s - slots[i]!)).toEqual(slots.slice(1).map(() => EVERY_MS));
    // None lost: the first fires at once, then one per period until the processes stopped.
    const expected = Math.floor((stopped - slots[0]!) / EVERY_MS) + 1;
    expect(done.length).toBeGreaterThanOrEqual(expected - 1);
    expect(done.length).toBeLessThanOrEqual(expected);
    // Each backup was taken in its own period, after its slot came (a loaded machine may start one
    // late, but never early, and never twice: job ids are per slot).
    const results = done.map((j) => j.returnvalue as BackupResult);
    results.forEach((r, i) => {
      const taken = Date.parse(r.createdAt);
      expect(taken).toBeGreaterThanOrEqual(slots[i]! - 1000); // ids have whole seconds
      expect(taken).toBeLessThan(slots[i]! + 2 * EVERY_MS);
    });
    const ids = results.map((r) => r.backupId);
    expect(new Set(ids).size).toBe(ids.length);

    // The sweep: one prune per scheduled backup, named after it; all but maybe the last have run.
    const prunes = await pruneQueue.getJobs(['completed', 'failed', 'active', 'waiting', 'prioritized', 'delayed']);
    expect(prunes.map((j) => j.id).sort()).toEqual(ids.map((id) => `prune-after-${id}`).sort());
    const pruned = prunes.filter((j) => j.finishedOn);
    expect(pruned.filter((j) => j.failedReason)).toEqual([]);
    expect(pruned.length).toBeGreaterThanOrEqual(ids.length - 1);
    // With the default policy each sweep deleted the day's older backups: what is left plus what
    // was deleted is exactly what was backed up, and the newest is still there.
    // Two sweeps may overlap (one per process) and delete the same backup: count each id once.
    const deleted = new Set(pruned.flatMap((j) => (j.returnvalue as PruneResult).deleted));
    const left = await listStore();
    expect(left).toContain(ids.at(-1));
    expect(left.filter((id) => deleted.has(id))).toEqual([]);
    expect([...left, ...deleted].sort()).toEqual([...ids].sort());
    expect(left.length).toBeLessThanOrEqual(3);

    const ranBy = (s: RunningService): number => s.logs().split('\n').filter((l) => l.includes('"backup completed"')).length;
    console.info(`schedule: ${done.length} backups in ${((stopped - slots[0]!) / 1000).toFixed(1)} s, slots ${slots.map((s) => s - slots[0]!).join(', ')} ms; `
      + `prunes completed ${pruned.length}, deleted ${deleted.size}, left ${left.length}; by process: a ${ranBy(a)}, b ${ranBy(services.at(-2)!)} + ${ranBy(b)} after restart`);
  });

  it('runs no prune after a failed scheduled backup', async () => {
    const backupQueue = queue('backup', failingPrefix);
    const pruneQueue = queue('prune', failingPrefix);
    await failing.stop('SIGTERM');
    const failed = await backupQueue.getJobs(['failed']);
    expect(failed.length).toBeGreaterThanOrEqual(3);
    expect(failed[0]!.failedReason).toContain('database not found');
    expect(await backupQueue.getJobs(['completed'])).toEqual([]);
    const counts = await pruneQueue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized');
    expect(Object.values(counts).reduce((x, y) => x + y, 0)).toBe(0);
  });

  it('removes the scheduler when a process starts with BACKUP_SCHEDULE_HOURS=0, and its due slot does not fire', async () => {
    const backupQueue = queue('backup');
    const before = (await backupQueue.getJobs(['completed', 'failed'])).length;
    // The other processes are stopped: wait until the pending slot is overdue, so a worker that took
    // jobs before the upsert removed the scheduler would run it at once.
    const [scheduler] = await backupQueue.getJobSchedulers();
    await sleep(Math.max(0, (scheduler?.next ?? 0) - Date.now() + 200));
    const off = await start(await env('off', { BACKUP_SCHEDULE_HOURS: '0' }));
    expect(await backupQueue.getJobSchedulers()).toEqual([]);
    expect(await backupQueue.getJobCounts('delayed', 'waiting', 'prioritized', 'active')).toEqual({ delayed: 0, waiting: 0, prioritized: 0, active: 0 });
    await sleep(1500);
    await off.stop('SIGTERM');
    expect(await backupQueue.getJobs(['completed', 'failed'])).toHaveLength(before);
  });
});
