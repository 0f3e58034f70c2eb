import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newBackupId } from '../../src/backups/backup-id.js';
import { enqueuePrune, enqueueRestore } from '../../src/queue/enqueue.js';
import type { PruneResult, RestoreResult } from '../../src/queue/job-types.js';
import { planRetention } from '../../src/retention/plan-retention.js';
import { blobDigest, createBlobDatabase } from '../helpers/blob-database.js';
import { encryptBuffer, snapkeepMetadata } from '../helpers/broken-backups.js';
import { startInProcessWorkers, type InProcessWorkers } from '../helpers/in-process-workers.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { listKeys } from '../helpers/s3-inspect.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const MiB = 1024 * 1024;
const PREFIX = 'backups/';
// The backups are one a day, the newest an hour ago. Prunes run as of now: a queued prune may not
// plan as of another time (`at` is for dry runs only, issue 13).
const NOW = new Date();
const backupTime = (day: number): Date => new Date(NOW.getTime() - day * 86_400_000 - 3_600_000);
const DAYS = 5;

/**
 * Fault 7: restores of five backups and a prune, at the same time, on the same workers. Retention
 * keeps two days, so three of the five backups are due for deletion while their restores wait in
 * the queue. Each restore must equal its own source, and the prune must delete only what the plan
 * deletes, never a backup whose restore is waiting or running.
 */
describe('fault: concurrent restores and prune', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let proxy: TcpProxy;
  let workers: InProcessWorkers;
  let sources: string;
  const digests = new Map<string, string>();

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server({ bucket: 'faults-prune' })]);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
    workers = await startInProcessWorkers(redis.url, {
      BACKUP_S3_ENDPOINT: proxy.url, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId,
      BACKUP_S3_SECRET_KEY: s3.secretAccessKey, BACKUP_RETAIN_DAILY_DAYS: '2', BACKUP_RETAIN_WEEKLY_WEEKS: '0',
    });
    // Each backup holds different data, so a restore that got another's bytes would show.
    sources = await mkdtemp(join(tmpdir(), 'snapkeep-prune-sources-'));
    for (let day = 0; day < DAYS; day++) {
      const id = newBackupId(backupTime(day));
      const path = join(sources, `${id}.db`);
      createBlobDatabase(path, 1);
      digests.set(id, blobDigest(path));
      const bytes = await encryptBuffer(workers.config.masterKey!, readFileSync(path));
      await workers.store.put(`${id}.crbu`, Readable.from([bytes]), { metadata: snapkeepMetadata(workers.config.masterKey!) });
    }
  });

  afterAll(async () => {
    await workers?.close();
    await proxy?.close();
    await Promise.all([redis?.close(), s3?.close()]);
    if (sources) await rm(sources, { recursive: true, force: true });
  });

  it('restores every backup intact and prunes only what the plan says, sparing backups being restored', async () => {
    const ids = [...digests.keys()];
    const plan = planRetention(ids.map((id, day) => ({ id, createdAt: new Date(Math.floor(backupTime(day).getTime() / 1000) * 1000) })), workers.config.retention, NOW);
    expect(plan.delete).toHaveLength(3);

    // About a second per restore: the later ones wait in the queue while the prune runs.
    proxy.throttle(1 * MiB);
    const restoreJobs = await Promise.all(ids.map((backupId) => enqueueRestore(workers.queues, { backupId })));
    const pruneJob = await enqueuePrune(workers.queues, { dryRun: false });

    const pruned = await workers.finished(pruneJob.jobId);
    expect(pruned.state, pruned.failedReason ?? '').toBe('completed');
    const first = pruned.result as PruneResult;
    // Nothing outside the plan was deleted; what the plan deleted but a restore still needed stayed.
    expect(plan.delete).toEqual(expect.arrayContaining(first.deleted));
    const spared = plan.delete.filter((id) => !first.deleted.includes(id));
    for (const id of spared) expect(first.reasons[id]).toEqual(['restoring']);
    expect(spared.length).toBeGreaterThan(0);

    proxy.throttle(null);
    for (const [i, job] of restoreJobs.entries()) {
      const done = await workers.finished(job.jobId, 30_000);
      expect(done.state, done.failedReason ?? '').toBe('completed');
      const result = done.result as RestoreResult;
      expect(blobDigest(result.path)).toBe(digests.get(ids[i]!));
    }

    // With the restores over, the same prune deletes the rest of the plan, and nothing else.
    const again = await workers.finished((await enqueuePrune(workers.queues, { dryRun: false })).jobId);
    expect(again.state, again.failedReason ?? '').toBe('completed');
    expect([...first.deleted, ...(again.result as PruneResult).deleted].sort()).toEqual([...plan.delete].sort());
    expect((await listKeys(s3, PREFIX)).sort()).toEqual(plan.keep.map((k) => `${PREFIX}${k.id}.crbu`).sort());
  });
});
