import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { refusedJobRecorder, refusedJobsKey } from '../../src/metrics/refused-jobs.js';
import { findJobStatus, type JobStatus } from '../../src/queue/job-status.js';
import { createQueues, type Queues } from '../../src/queue/queues.js';
import { waitUntilReady } from '../../src/queue/redis-connection.js';
import { collectingLogger, trackConnections } from './in-process-parts.js';
import type { BackupStore } from '../../src/storage/backup-store.js';
import type { S3StoreOptions } from '../../src/storage/s3-store.js';
import { createStore } from '../../src/storage/create-store.js';
import { startWorkers, type RunningWorkers, type StartWorkersOptions } from '../../workers/runtime/start-workers.js';
import { removeDir } from './redis-server.js';
import { createSampleDatabase } from './sample-database.js';

/**
 * InProcessWorkers are the queues and workers of a `snapkeep worker`, built in this process from the
 * same parts, so a test can give the store options no setting reaches (short S3 timeouts).
 */
export interface InProcessWorkers {
  config: Config;
  queues: Queues;
  /** The store the workers use, for a test to seed or inspect. */
  store: BackupStore;
  /** Every log line, as JSON text. */
  logs: string[];
  /** Polls a job until it is completed or failed. */
  finished(jobId: string, timeoutMs?: number): Promise<JobStatus>;
  /** Polls a job until accept(status) holds. */
  until(jobId: string, accept: (status: JobStatus) => boolean, timeoutMs?: number): Promise<JobStatus>;
  close(): Promise<void>;
}

/**
 * startInProcessWorkers runs workers over a fresh sample database, state directory and queue prefix;
 * env holds the store's settings (and any other), storeOptions tune an S3 store.
 */
export async function startInProcessWorkers(
  redisUrl: string, env: Record<string, string>, storeOptions: S3StoreOptions = {},
  workerOptions: Pick<StartWorkersOptions, 'notifyTimeoutMs' | 'scheduleGuardMs'> = {},
): Promise<InProcessWorkers> {
  const dir = mkdtempSync(join(tmpdir(), 'snapkeep-workers-'));
  const dbPath = join(dir, 'app.db');
  createSampleDatabase(dbPath, 300);
  const config = loadConfig({
    REDIS_URL: redisUrl, QUEUE_PREFIX: `w${randomBytes(4).toString('hex')}`, STATE_DIR: join(dir, 'state'), DB_PATH: dbPath,
    MASTER_KEY: randomBytes(32).toString('hex'), BACKUP_SCHEDULE_HOURS: '0', BACKUP_JOB_ATTEMPTS: '3', BACKUP_JOB_BACKOFF_MS: '300', ...env,
  });
  const logs: string[] = [];
  const logger = collectingLogger(logs);
  const { connect, all: connections } = trackConnections(redisUrl);
  const producer = connect('producer');
  await waitUntilReady(producer, 5000);
  const queues = createQueues(config, producer);
  const store = createStore(config.store!, { ...storeOptions, logger });
  const workers: RunningWorkers = await startWorkers({
    config, store, queues, logger, connect: () => connect('worker'), onJobRefused: refusedJobRecorder(producer, refusedJobsKey(queues), logger),
    ...workerOptions,
  });

  const until = async (jobId: string, accept: (status: JobStatus) => boolean, timeoutMs = 30_000): Promise<JobStatus> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await findJobStatus(queues, jobId);
      if (status && accept(status)) return status;
      if (Date.now() > deadline) throw new Error(`job ${jobId} never got there: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return {
    config, queues, store, logs, until,
    finished: (jobId, timeoutMs) => until(jobId, (s) => s.state === 'completed' || s.state === 'failed', timeoutMs),
    async close() {
      await workers.close();
      await queues.close();
      for (const c of connections) c.disconnect();
      removeDir(dir);
    },
  };
}
