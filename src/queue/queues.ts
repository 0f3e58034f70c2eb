import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import { SnapkeepError } from '../errors.js';
import { JobSigner } from './job-auth.js';
import type { BackupJobData, PruneJobData, QueueName, RestoreJobData } from './job-types.js';

/**
 * Queues holds the three BullMQ queues a process produces into, sharing one connection, and the
 * signer every job added to them is signed with (workers refuse unsigned jobs).
 */
export interface Queues {
  backup: Queue<BackupJobData>;
  restore: Queue<RestoreJobData>;
  prune: Queue<PruneJobData>;
  all: Array<{ name: QueueName; queue: Queue }>;
  /** The signer from MASTER_KEY; throws when the process has no master key (it cannot make jobs then). */
  signer(): JobSigner;
  close(): Promise<void>;
}

/** The scheduler's id: every serve/worker process upserts the same one, so there is one schedule. */
export const SCHEDULER_ID = 'scheduled-backup';
/** Every backup request carries this deduplication id, so a second request joins the first. */
export const BACKUP_DEDUPLICATION_ID = 'backup-in-progress';

/** defaultJobOptions are retries with exponential backoff and a history long enough to poll. */
export function defaultJobOptions(config: Config): JobsOptions {
  return {
    attempts: config.jobs.attempts,
    backoff: { type: 'exponential', delay: config.jobs.backoffMs },
    removeOnComplete: { count: 1000, age: 7 * 24 * 3600 },
    removeOnFail: { count: 1000, age: 7 * 24 * 3600 },
  };
}

/** createQueues opens the backup, restore and prune queues under QUEUE_PREFIX. */
export function createQueues(config: Config, connection: Redis): Queues {
  const options = { connection, prefix: config.queuePrefix, defaultJobOptions: defaultJobOptions(config) };
  const backup = new Queue<BackupJobData>('backup', options);
  const restore = new Queue<RestoreJobData>('restore', options);
  const prune = new Queue<PruneJobData>('prune', options);
  const all: Queues['all'] = [
    { name: 'backup', queue: backup as Queue },
    { name: 'restore', queue: restore as Queue },
    { name: 'prune', queue: prune as Queue },
  ];
  const signer = config.masterKey ? new JobSigner(config.masterKey) : undefined;
  return {
    backup, restore, prune, all,
    signer() {
      if (!signer) throw new SnapkeepError('invalid_config', 'MASTER_KEY is required to make jobs: workers run only jobs signed with it');
      return signer;
    },
    async close() {
      await Promise.all(all.map(({ queue }) => queue.close()));
    },
  };
}
