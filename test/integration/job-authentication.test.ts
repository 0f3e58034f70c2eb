import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factsMetadata } from '../../src/backups/backup-facts.js';
import { newBackupId } from '../../src/backups/backup-id.js';
import { refusedJobsKey, refusedJobsRegistry } from '../../src/metrics/refused-jobs.js';
import { enqueueBackup, enqueuePrune } from '../../src/queue/enqueue.js';
import { JobSigner } from '../../src/queue/job-auth.js';
import type { PruneResult } from '../../src/queue/job-types.js';
import { SCHEDULER_ID } from '../../src/queue/queues.js';
import { guardSchedule } from '../../workers/runtime/schedule.js';
import { encryptBuffer, snapkeepMetadata } from '../helpers/broken-backups.js';
import { collectingLogger } from '../helpers/in-process-parts.js';
import { startInProcessWorkers, type InProcessWorkers } from '../helpers/in-process-workers.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';

/**
 * Issue 13, finding 1 and 2, from the intruder's side: someone who can write to Redis (no token,
 * no master key) uses BullMQ's own API to add and rewrite jobs. Workers must run none of them.
 */
describe('jobs written to Redis by an intruder', () => {
  let redis: TestRedis;
  let workers: InProcessWorkers;
  let intruder: Redis;
  let dir: string;
  const queueOf = (name: string): Queue => new Queue(name, { connection: intruder, prefix: workers.config.queuePrefix });
  const stored = async (): Promise<string[]> => (await workers.store.list()).map((o) => o.name).sort();

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-intruder-'));
    workers = await startInProcessWorkers(redis.url, {
      BACKUP_LOCAL_DIR: join(dir, 'backups'), BACKUP_RETAIN_DAILY_DAYS: '1', BACKUP_RETAIN_WEEKLY_WEEKS: '0',
    });
    intruder = new Redis(redis.url, { maxRetriesPerRequest: null });
    // Eleven good backups, one a day: what a real prune under this policy would mostly delete.
    for (let day = 0; day < 11; day++) {
      const id = newBackupId(new Date(Date.now() - day * 86_400_000 - 3_600_000));
      const bytes = await encryptBuffer(workers.config.masterKey!, Buffer.from('SQLite format 3\0'));
      // With the authenticated record a real backup carries, so retention counts them (workers/prune/unrecorded-backups.ts).
      const facts = factsMetadata(id, { journalMode: 'delete', fingerprint: { tables: {}, schemaSha256: '0'.repeat(64) } }, workers.config.masterKey!);
      await workers.store.put(`${id}.crbu`, Readable.from([bytes]), { metadata: { ...snapkeepMetadata(workers.config.masterKey!), ...facts } });
    }
  });

  afterAll(async () => {
    intruder?.disconnect();
    await workers?.close();
    await redis?.close();
    if (dir) removeDir(dir);
  });

  const expectRefused = async (jobId: string, code: string): Promise<void> => {
    const status = await workers.finished(jobId);
    expect(status.state).toBe('failed');
    expect(status.failedReason).toContain(code);
    // Not retried: the first attempt is the last.
    expect(status.attemptsMade).toBe(1);
    expect(workers.logs.some((l) => l.includes('"job refused"') && l.includes(jobId) && l.includes('"level":"warn"'))).toBe(true);
  };

  // A refusal is final whatever attempt Redis says it is: the job ends failed with the reason.
  const expectRefusedAfterRetries = async (jobId: string, reason: string): Promise<void> => {
    const status = await workers.finished(jobId);
    expect(status.state).toBe('failed');
    expect(status.failedReason).toContain(reason);
  };

  it('refuses an unsigned backup job locked with the intruder\'s passphrase, storing nothing', async () => {
    const before = await stored();
    const job = await queueOf('backup').add('backup', { trigger: 'api', sealedPassphrase: 'age-encryption.org/v1 intruder' }, { jobId: 'backup-intruder-1' });
    await expectRefused(job.id!, 'unauthenticated_job');
    expect(await stored()).toEqual(before);
  });

  it('refuses the prune that deleted every backup ({dryRun:false, at:2030, force:true}), deleting nothing', async () => {
    const before = await stored();
    const job = await queueOf('prune').add('prune', { dryRun: false, at: '2030-01-01T00:00:00Z', force: true }, { jobId: 'prune-intruder-1' });
    await expectRefused(job.id!, 'unauthenticated_job');
    expect(await stored()).toEqual(before);
  });

  it('refuses a signed job whose data was altered, copied to a new id, or moved to another queue', async () => {
    const before = await stored();
    // A real dry run, as the API makes it; the intruder reads its signed data from Redis.
    const dry = await enqueuePrune(workers.queues, { dryRun: true });
    expect((await workers.finished(dry.jobId)).state).toBe('completed');
    const signed = (await workers.queues.prune.getJob(dry.jobId))!.data as unknown as Record<string, unknown>;

    const altered = await queueOf('prune').add('prune', { ...signed, dryRun: false }, { jobId: 'prune-intruder-2' });
    await expectRefused(altered.id!, 'unauthenticated_job');
    const copied = await queueOf('prune').add('prune', signed, { jobId: 'prune-intruder-3' });
    await expectRefused(copied.id!, 'unauthenticated_job');
    const moved = await queueOf('backup').add('backup', { ...signed, trigger: 'api' }, { jobId: dry.jobId.replace('prune', 'backup') });
    await expectRefused(moved.id!, 'unauthenticated_job');
    // A signature in the wrong shape is no signature.
    const junk = await queueOf('backup').add('backup', { trigger: 'api', auth: { v: 1, issuedAt: 'x', mac: 'y' } }, { jobId: 'backup-intruder-4' });
    await expectRefused(junk.id!, 'unauthenticated_job');
    expect(await stored()).toEqual(before);
  });

  it('refuses a job signed with another master key, and one signed more than a day ago', async () => {
    const foreign = new JobSigner(randomBytes(32));
    const id = 'backup-foreign-key';
    const withOtherKey = await queueOf('backup').add('backup', foreign.sign({ queue: 'backup', name: 'backup', id }, { trigger: 'api' }), { jobId: id });
    await expectRefused(withOtherKey.id!, 'unauthenticated_job');
    const oldId = 'prune-stale';
    const stale = workers.queues.signer().sign({ queue: 'prune', name: 'prune', id: oldId }, { dryRun: false }, new Date(Date.now() - 25 * 3600_000));
    await queueOf('prune').add('prune', stale, { jobId: oldId });
    await expectRefused(oldId, 'expired');
  });

  // Defence in depth: even a correctly signed job (a leaked key, a signing bug) may not carry what
  // the API refuses. These are signed with the real key on purpose.
  it.each([
    ['a restore into a foreign directory', 'restore', { backupId: newBackupId(new Date()), target: '/some/where/else' }, 'not under the restore root'],
    ['a restore into /proc', 'restore', { backupId: newBackupId(new Date()), target: '/proc/self/x/y' }, '/proc'],
    ['a restore with a relative target', 'restore', { backupId: newBackupId(new Date()), target: 'restore/../../x' }, 'not an absolute'],
    ['a real prune as of another time', 'prune', { dryRun: false, at: '2030-01-01T00:00:00Z' }, 'invalid_job'],
    ['a prune without dryRun', 'prune', { force: true }, 'invalid_job'],
    ['a backup with an unknown field', 'backup', { trigger: 'api', target: '/tmp' }, 'invalid_job'],
    ['a restore of a malformed id', 'restore', { backupId: '../../etc/passwd' }, 'invalid_job'],
  ])('refuses %s even when signed', async (_what, queue, data, reason) => {
    const before = await stored();
    const jobId = `${queue}-signed-${randomBytes(4).toString('hex')}`;
    await queueOf(queue).add(queue, workers.queues.signer().sign({ queue, name: queue, id: jobId }, data), { jobId });
    await expectRefused(jobId, reason);
    expect(await stored()).toEqual(before);
    expect(existsSync('/some/where/else')).toBe(false);
  });

  it('refuses a restore target that passes through a symbolic link under the restore root', async () => {
    const { mkdirSync, symlinkSync } = await import('node:fs');
    mkdirSync(workers.config.restoreRoot, { recursive: true });
    const outside = mkdtempSync(join(tmpdir(), 'snapkeep-outside-'));
    symlinkSync(outside, join(workers.config.restoreRoot, 'link'));
    const jobId = `restore-link-${randomBytes(4).toString('hex')}`;
    const [newest] = await stored();
    const data = { backupId: newest!.replace('.crbu', ''), target: join(workers.config.restoreRoot, 'link', 'here') };
    await queueOf('restore').add('restore', workers.queues.signer().sign({ queue: 'restore', name: 'restore', id: jobId }, data), { jobId });
    await expectRefused(jobId, 'symbolic link');
    expect(readdirSync(outside)).toEqual([]);
    removeDir(outside);
  });

  it('refuses a replay of a completed signed job: BullMQ\'s retry, or the same data added again under its id', async () => {
    const dry = await enqueuePrune(workers.queues, { dryRun: true });
    expect((await workers.finished(dry.jobId)).state).toBe('completed');
    const job = (await queueOf('prune').getJob(dry.jobId))!;
    const signed = job.data as Record<string, unknown>;
    await job.retry('completed');
    await workers.until(dry.jobId, (s) => s.state === 'failed');
    expect((await workers.queues.prune.getJob(dry.jobId))!.failedReason).toContain('a replay');
    await (await queueOf('prune').getJob(dry.jobId))!.remove();
    await queueOf('prune').add('prune', signed, { jobId: dry.jobId });
    await workers.until(dry.jobId, (s) => s.state === 'failed');
    expect((await workers.queues.prune.getJob(dry.jobId))!.failedReason).toContain('a replay');
  });

  it('refuses a job signed days ago even when Redis claims it is a retry', async () => {
    const id = 'prune-old-retry';
    const old = workers.queues.signer().sign({ queue: 'prune', name: 'prune', id }, { dryRun: true }, new Date(Date.now() - 3 * 86_400_000));
    await queueOf('prune').add('prune', old, { jobId: id, delay: 60_000 });
    // The intruder marks it as already attempted, then lets it run.
    await intruder.hset(`${workers.config.queuePrefix}:prune:${id}`, 'atm', '1');
    await (await queueOf('prune').getJob(id))!.promote();
    await expectRefusedAfterRetries(id, 'expired');
  });

  it('refuses copies of the schedule template under made-up slot ids: old slots, and slots moments apart', async () => {
    const signer = workers.queues.signer();
    const template = signer.signTemplate({ queue: 'backup', name: 'backup', id: SCHEDULER_ID }, { trigger: 'schedule' }, new Date(0));
    const before = await stored();
    const now = Date.now();
    await queueOf('backup').add('backup', template, { jobId: `repeat:${SCHEDULER_ID}:${now - 2 * 86_400_000}` });
    await expectRefused(`repeat:${SCHEDULER_ID}:${now - 2 * 86_400_000}`, 'slot time');
    // One fresh slot runs (as a genuine one would); its copies a second later are refused.
    const first = `repeat:${SCHEDULER_ID}:${now}`;
    await queueOf('backup').add('backup', template, { jobId: first });
    expect((await workers.finished(first)).state).toBe('completed');
    for (const offset of [1000, 2000]) {
      const copy = `repeat:${SCHEDULER_ID}:${now + offset}`;
      await queueOf('backup').add('backup', template, { jobId: copy });
      await expectRefused(copy, 'moments apart');
    }
    // Exactly one new backup came of the three slots (the prune that follows a scheduled backup may
    // have removed older ones under this test's one-day retention).
    expect((await stored()).filter((name) => !before.includes(name))).toHaveLength(1);
  });

  it('counts every refusal for /metrics, by queue and reason', async () => {
    const text = await (await refusedJobsRegistry(intruder, refusedJobsKey(workers.queues))).metrics();
    const value = (queue: string, reason: string): number => Number(new RegExp(`snapkeep_jobs_refused_total\\{queue="${queue}",reason="${reason}"\\} (\\d+)`).exec(text)?.[1]);
    expect(value('backup', 'unauthenticated_job')).toBeGreaterThanOrEqual(4);
    expect(value('prune', 'unauthenticated_job')).toBeGreaterThanOrEqual(3);
    expect(value('restore', 'invalid_job')).toBeGreaterThanOrEqual(3);
  });

  it('runs the jobs the API signs: a real backup and a real prune', async () => {
    const backupJob = await enqueueBackup(workers.queues, { trigger: 'api' });
    expect((await workers.finished(backupJob.jobId)).state).toBe('completed');
    const pruneJob = await enqueuePrune(workers.queues, { dryRun: false });
    const pruned = await workers.finished(pruneJob.jobId);
    expect(pruned.state, pruned.failedReason ?? '').toBe('completed');
    expect((pruned.result as PruneResult).deleted.length).toBeGreaterThan(0);
  });

  it('puts back a schedule template rewritten by the intruder, and refuses the jobs it fired meanwhile', async () => {
    const schedule = { type: 'every', everyMs: 3_600_000 } as const;
    const lines: string[] = [];
    const logger = collectingLogger(lines);
    const signer = workers.queues.signer();
    expect(await guardSchedule(workers.queues.backup, schedule, logger, signer)).toEqual(['restored the missing schedule']);
    expect(await guardSchedule(workers.queues.backup, schedule, logger, signer)).toEqual([]);
    // The intruder locks every nightly backup with a passphrase of its own, and adds a scheduler of its own.
    const backups = queueOf('backup');
    await backups.upsertJobScheduler(SCHEDULER_ID, { every: 3_600_000 }, { name: 'backup', data: { trigger: 'schedule', sealedPassphrase: 'intruder' } });
    await backups.upsertJobScheduler('intruder-nightly', { every: 1000 }, { name: 'prune', data: { dryRun: false, force: true } });
    const repaired = await guardSchedule(workers.queues.backup, schedule, logger, signer);
    expect(repaired).toEqual(expect.arrayContaining(['removed foreign scheduler intruder-nightly', 'replaced a rewritten schedule']));
    expect(lines.some((l) => l.includes('schedule repaired') && l.includes('"level":"warn"'))).toBe(true);
    const schedulers = await workers.queues.backup.getJobSchedulers();
    expect(schedulers.map((s) => s.key)).toEqual([SCHEDULER_ID]);
    expect(signer.verifyTemplate({ queue: 'backup', name: 'backup', id: SCHEDULER_ID }, schedulers[0]!.template?.data)).toBe(true);
    // The pending slot, whatever the intruder's upsert did to it, now carries our template.
    const slots = (await backups.getJobs(['delayed', 'waiting'])).filter((j) => j.id?.startsWith(`repeat:${SCHEDULER_ID}:`));
    expect(slots).toHaveLength(1);
    expect(signer.verifyTemplate({ queue: 'backup', name: 'backup', id: SCHEDULER_ID }, slots[0]!.data)).toBe(true);
    // A job carrying the template's signature but not fired by the scheduler is refused.
    const template = schedulers[0]!.template!.data as unknown as Record<string, unknown>;
    await backups.add('backup', { ...template, sealedPassphrase: 'intruder' }, { jobId: `repeat:${SCHEDULER_ID}:1` });
    await expectRefused(`repeat:${SCHEDULER_ID}:1`, 'unauthenticated_job');
    await backups.add('backup', template, { jobId: 'backup-not-from-scheduler' });
    await expectRefused('backup-not-from-scheduler', 'unauthenticated_job');
    await workers.queues.backup.removeJobScheduler(SCHEDULER_ID);
  });
});
