import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueBackup } from '../../src/queue/enqueue.js';
import type { VerifyResult } from '../../src/queue/job-types.js';
import { VERIFY_SCHEDULER_ID } from '../../src/queue/queues.js';
import { drillSchedulerSpec, guardScheduler } from '../../workers/runtime/schedule.js';
import { collectingLogger } from '../helpers/in-process-parts.js';
import { startInProcessWorkers, type InProcessWorkers } from '../helpers/in-process-workers.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';

// 0.0005 h is 1.8 s: a few drill periods in the seconds this file watches.
const HOURS = '0.0005';
const PERIOD_MS = 1800;
const SLOT = `repeat:${VERIFY_SCHEDULER_ID}:`;

/**
 * Issue 16, the scheduled restore drill: two worker processes on one Redis and one store, as
 * replicas would be. One signed scheduler, one drill per period whoever runs it, the first one
 * period after it was set up; a rewritten template is put back.
 */
describe('the scheduled restore drill', () => {
  let redis: TestRedis;
  let dir: string;
  const sets: InProcessWorkers[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-drills-'));
    const env = {
      QUEUE_PREFIX: `d${randomBytes(3).toString('hex')}`, MASTER_KEY: randomBytes(32).toString('hex'), BACKUP_LOCAL_DIR: join(dir, 'backups'),
      BACKUP_VERIFY_SCHEDULE_HOURS: HOURS,
    };
    sets.push(await startInProcessWorkers(redis.url, env));
    sets.push(await startInProcessWorkers(redis.url, env));
  });
  afterAll(async () => {
    for (const w of sets) await w.close();
    await redis?.close();
    if (dir) removeDir(dir);
  });

  it('fires one drill per period across both processes, the first one period after it was set up', async () => {
    const [a] = sets;
    const scheduler = await a!.queues.verify.getJobScheduler(VERIFY_SCHEDULER_ID);
    expect(scheduler).toMatchObject({ every: PERIOD_MS, template: { data: { trigger: 'schedule', auth: expect.objectContaining({ scheduler: VERIFY_SCHEDULER_ID }) } } });
    expect(await a!.queues.verify.getJobSchedulersCount()).toBe(1);
    const backup = await a!.finished((await enqueueBackup(a!.queues, { trigger: 'api' })).jobId);
    expect(backup.state, backup.failedReason ?? '').toBe('completed');

    const fired = async (): Promise<Job[]> => (await a!.queues.verify.getJobs(['completed', 'failed'])).filter((j) => j.id!.startsWith(SLOT));
    const deadline = Date.now() + 20_000;
    while ((await fired()).length < 3) {
      if (Date.now() > deadline) throw new Error(`only ${(await fired()).length} drills fired`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const jobs = await fired();
    const slots = jobs.map((j) => Number(j.id!.slice(SLOT.length))).sort((x, y) => x - y);
    // One job per slot, slots one period apart: neither process added a second drill.
    expect(new Set(slots).size).toBe(slots.length);
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(PERIOD_MS);
    for (const job of jobs) {
      expect(`${job.id} ${job.failedReason ?? 'ok'}`).toBe(`${job.id} ok`);
      const result = job.returnvalue as VerifyResult;
      expect(result.verified).toBe(true);
      expect(result.verifications.map((v) => v.backupId)).toEqual([(backup.result as { backupId: string }).backupId]);
    }
  });

  it('puts back a drill template rewritten in Redis', async () => {
    const [a] = sets;
    const lines: string[] = [];
    const logger = collectingLogger(lines);
    const spec = drillSchedulerSpec(a!.config.verifySchedule);
    expect(await guardScheduler(a!.queues.verify as never, spec, logger, a!.queues.signer())).toEqual([]);
    // An intruder makes every drill verify nothing useful (its own data, unsigned).
    await a!.queues.verify.upsertJobScheduler(VERIFY_SCHEDULER_ID, { every: PERIOD_MS }, { name: 'verify', data: { trigger: 'api', backupId: '20200101T000000Z-00000000' } as never });
    expect(await guardScheduler(a!.queues.verify as never, spec, logger, a!.queues.signer())).toEqual(['replaced a rewritten schedule']);
    const scheduler = await a!.queues.verify.getJobScheduler(VERIFY_SCHEDULER_ID);
    expect(a!.queues.signer().verifyTemplate({ queue: 'verify', name: 'verify', id: VERIFY_SCHEDULER_ID }, scheduler?.template?.data)).toBe(true);
    expect(lines.some((l) => l.includes('schedule repaired') && l.includes(VERIFY_SCHEDULER_ID))).toBe(true);
  });
});
