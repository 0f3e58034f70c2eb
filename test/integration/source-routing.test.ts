import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueBackup } from '../../src/queue/enqueue.js';
import { guardSchedulers } from '../../workers/runtime/schedule.js';
import { backupSchedulersOn } from '../../workers/runtime/source-schedules.js';
import { collectingLogger } from '../helpers/in-process-parts.js';
import { startInProcessWorkers, type InProcessWorkers } from '../helpers/in-process-workers.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

/**
 * Issue 14: a worker (SNAPKEEP_HOST=here) with three sources: `one` and `two` any worker may serve,
 * `far` pinned to another host. Jobs go where their source's files are, one backup per source at a
 * time, and nothing written to Redis moves a source's job to a worker that lacks its files.
 */
describe('sources routed to the workers that serve them', () => {
  let redis: TestRedis;
  let workers: InProcessWorkers;
  let intruder: Redis;
  let dir: string;
  const objects = (source: string): string[] => readdirSync(join(dir, 'backups', source)).filter((n) => n.endsWith('.crbu'));

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-routing-'));
    createSampleDatabase(join(dir, 'one.db'), 300);
    createSampleDatabase(join(dir, 'two.db'), 500);
    writeFileSync(join(dir, 'sources.yaml'), [
      'sources:',
      `  - { name: one, database: ${join(dir, 'one.db')}, schedule: { off: true } }`,
      `  - { name: two, database: ${join(dir, 'two.db')}, schedule: { hours: 24 } }`,
      `  - { name: far, host: elsewhere, database: ${join(dir, 'one.db')}, schedule: { hours: 24 } }`,
    ].join('\n'));
    workers = await startInProcessWorkers(redis.url, {
      SNAPKEEP_CONFIG: join(dir, 'sources.yaml'), DB_PATH: '', SNAPKEEP_HOST: 'here', BACKUP_LOCAL_DIR: join(dir, 'backups'), BACKUP_JOB_ATTEMPTS: '1',
    });
    intruder = new Redis(redis.url, { maxRetriesPerRequest: null });
  });

  afterAll(async () => {
    intruder?.disconnect();
    await workers?.close();
    await redis?.close();
    if (dir) removeDir(dir);
  });

  it('backs up each source into its own folder, and says which source in the job status', async () => {
    const one = await enqueueBackup(workers.queues, { trigger: 'api', source: 'one' });
    const two = await enqueueBackup(workers.queues, { trigger: 'api', source: 'two' });
    const [a, b] = await Promise.all([workers.finished(one.jobId), workers.finished(two.jobId)]);
    expect([a.state, b.state]).toEqual(['completed', 'completed']);
    expect(a).toMatchObject({ source: 'one', queue: 'backup', result: { source: 'one' } });
    expect(b).toMatchObject({ source: 'two', queue: 'backup', result: { source: 'two' } });
    // `two`'s schedule also fired once as the worker started: its folder may hold that backup too.
    expect(objects('one')).toEqual([`${(a.result as { backupId: string }).backupId}.crbu`]);
    expect(objects('two')).toContain(`${(b.result as { backupId: string }).backupId}.crbu`);
    expect(objects('two')).not.toContain(`${(a.result as { backupId: string }).backupId}.crbu`);
  });

  it('a pinned source\'s backup waits in its host\'s queue while that host is away', async () => {
    const far = await enqueueBackup(workers.queues, { trigger: 'api', source: 'far' });
    expect(far.queue).toBe('backup@elsewhere');
    await new Promise((r) => setTimeout(r, 1500));
    const status = await workers.until(far.jobId, () => true);
    expect(status).toMatchObject({ state: 'waiting', queue: 'backup@elsewhere', source: 'far' });
  });

  // Defence in depth: even a master-key holder's job runs only where its source's files are, and
  // only for a declared source.
  it.each([
    ['another host serves, put in the shared queue', 'far', 'source far is not served from queue backup'],
    ['nobody declared', 'ghost', 'source_not_found'],
  ])('refuses a signed job for a source %s', async (_what, source, reason) => {
    const id = `backup-for-${source}`;
    await workers.queues.backup.add('backup', workers.queues.signer().sign({ queue: 'backup', name: 'backup', id }, { trigger: 'api', source }), { jobId: id });
    const status = await workers.finished(id);
    expect(status.state).toBe('failed');
    expect(status.failedReason).toContain(reason);
  });

  it('refuses an intruder\'s job moved to this host\'s queue: the signature names the queue', async () => {
    // The intruder copies a genuine job's data (signed for backup@elsewhere) into the shared queue.
    const far = await enqueueBackup(workers.queues, { trigger: 'api', source: 'two' });
    await workers.finished(far.jobId);
    const genuine = await new Queue('backup@elsewhere', { connection: intruder, prefix: workers.config.queuePrefix }).getJobs(['waiting']);
    expect(genuine.length).toBeGreaterThan(0);
    const copy = await new Queue('backup', { connection: intruder, prefix: workers.config.queuePrefix }).add('backup', genuine[0]!.data, { jobId: genuine[0]!.id! });
    const status = await workers.finished(copy.id!);
    expect(status.state).toBe('failed');
    expect(status.failedReason).toContain('unauthenticated_job');
  });

  it('runs one backup of a source at a time: a second waits, delayed, until the first is done', async () => {
    // Two signed jobs of one source (no deduplication), with room for two backups at once.
    const ids = ['backup-first', 'backup-second'];
    await Promise.all(ids.map((id) => workers.queues.backup.add('backup', workers.queues.signer().sign({ queue: 'backup', name: 'backup', id }, { trigger: 'api', source: 'two' }), { jobId: id })));
    const [first, second] = await Promise.all(ids.map((id) => workers.finished(id, 60_000)));
    expect([first!.state, second!.state]).toEqual(['completed', 'completed']);
    const spans = [first!, second!].map((s) => [Date.parse(s.startedAt!), Date.parse(s.finishedAt!)] as const).sort((x, y) => x[0] - y[0]);
    expect(spans[1]![0]).toBeGreaterThanOrEqual(spans[0]![1]);
  });

  it('keeps every source\'s schedule in the shared queue and removes a foreign one', async () => {
    const queue = workers.queues.backup as Queue;
    const specs = backupSchedulersOn(workers.config.sources, undefined);
    expect(specs.map((s) => s.id)).toEqual(['scheduled-backup.one', 'scheduled-backup.two']);
    expect((await queue.getJobSchedulers()).map((s) => s.key).sort()).toEqual(['scheduled-backup.two']);
    await new Queue('backup', { connection: intruder, prefix: workers.config.queuePrefix }).upsertJobScheduler('sneaky', { every: 1000 }, { name: 'backup', data: { trigger: 'schedule', source: 'two' } });
    const repaired = await guardSchedulers(queue, specs, collectingLogger([]), workers.queues.signer());
    expect(repaired).toEqual(['removed foreign scheduler sneaky']);
    expect((await queue.getJobSchedulers()).map((s) => s.key)).toEqual(['scheduled-backup.two']);
    // `far`'s schedule is in its host's queue, set by its host's worker: not by this one.
    expect(await workers.queues.routed('backup', 'elsewhere').getJobSchedulersCount()).toBe(0);
  });
});
