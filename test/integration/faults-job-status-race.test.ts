import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { findJobStatus } from '../../src/queue/job-status.js';
import { createQueues, type Queues } from '../../src/queue/queues.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/**
 * Found by the S3 outage test: a poller could see `completed` with `result: null`, because the job was
 * read before its state and finished in between; `snapkeep backup create --queue` then printed no id.
 */
describe('job status read while the job finishes', () => {
  let redis: TestRedis;
  let connection: Redis;
  let queues: Queues;
  let worker: Worker;

  beforeAll(async () => {
    redis = await startRedis();
    connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    queues = createQueues(loadConfig({ QUEUE_PREFIX: `race${randomBytes(3).toString('hex')}`, BACKUP_JOB_ATTEMPTS: '1' }), connection);
    // A job that finishes within a few milliseconds, so polls land on both sides of its completion.
    worker = new Worker('backup', async () => {
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      return { backupId: 'done' };
    }, { connection: new Redis(redis.url, { maxRetriesPerRequest: null }), prefix: queues.backup.opts.prefix! });
  });
  afterAll(async () => {
    await worker?.close();
    await queues?.close();
    connection?.disconnect();
    await redis?.close();
  });

  it('never shows a completed job without its result', async () => {
    const torn: string[] = [];
    for (let i = 0; i < 100; i++) {
      const job = await queues.backup.add('backup', { trigger: 'api' }, { jobId: `backup-race-${i}` });
      for (;;) {
        const status = await findJobStatus(queues, job.id!);
        if (status?.state === 'completed') {
          if (status.result === null) torn.push(job.id!);
          break;
        }
      }
    }
    expect(torn).toEqual([]);
  });
});
