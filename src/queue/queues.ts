import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import { SnapkeepError } from '../errors.js';
import { JobSigner } from './job-auth.js';
import type { ApplyJobData, BackupJobData, NotifyJobData, PruneJobData, QueueName, RestoreJobData, VerifyJobData } from './job-types.js';

/**
 * Queues holds the three BullMQ queues a process produces into, sharing one connection, and the
 * signer every job added to them is signed with (workers refuse unsigned jobs).
 */
export interface Queues {
  backup: Queue<BackupJobData>;
  restore: Queue<RestoreJobData>;
  prune: Queue<PruneJobData>;
  /** `backup apply` jobs: one at a time across every worker. */
  apply: Queue<ApplyJobData>;
  /** Restore drills (issue 16). */
  verify: Queue<VerifyJobData>;
  /** Notifications: webhooks and healthchecks pings, each retried with backoff apart from the job that caused it. */
  notify: Queue<NotifyJobData>;
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

/** NOTIFY_ATTEMPTS is how often a notification is tried: with the backoff, a receiver may be away for minutes. */
export const NOTIFY_ATTEMPTS = 6;
/** The scheduled restore drill's scheduler id (BACKUP_VERIFY_SCHEDULE_HOURS). */
export const VERIFY_SCHEDULER_ID = 'scheduled-verify';

/** notifyJobOptions: more attempts than a backup's, from at least a second apart, and a short history. */
export function notifyJobOptions(config: Config): JobsOptions {
  return {
    attempts: NOTIFY_ATTEMPTS,
    backoff: { type: 'exponential', delay: Math.max(1000, config.jobs.backoffMs) },
    removeOnComplete: { count: 1000, age: 7 * 24 * 3600 },
    removeOnFail: { count: 1000, age: 7 * 24 * 3600 },
  };
}

/** createQueues opens the backup, restore, prune, verify and notify queues under QUEUE_PREFIX. */
export function createQueues(config: Config, connection: Redis): Queues {
  const options = { connection, prefix: config.queuePrefix, defaultJobOptions: defaultJobOptions(config) };
  const backup = new Queue<BackupJobData>('backup', options);
  const restore = new Queue<RestoreJobData>('restore', options);
  const prune = new Queue<PruneJobData>('prune', options);
  const apply = new Queue<ApplyJobData>('apply', options);
  const verify = new Queue<VerifyJobData>('verify', options);
  const notify = new Queue<NotifyJobData>('notify', { ...options, defaultJobOptions: notifyJobOptions(config) });
  const all: Queues['all'] = [
    { name: 'backup', queue: backup as Queue },
    { name: 'restore', queue: restore as Queue },
    { name: 'prune', queue: prune as Queue },
    { name: 'apply', queue: apply as Queue },
    { name: 'verify', queue: verify as Queue },
    { name: 'notify', queue: notify as Queue },
  ];
  const signer = config.masterKey ? new JobSigner(config.masterKey) : undefined;
  return {
    backup, restore, prune, apply, verify, notify, all,
    signer() {
      if (!signer) throw new SnapkeepError('invalid_config', 'MASTER_KEY is required to make jobs: workers run only jobs signed with it');
      return signer;
    },
    async close() {
      await Promise.all(all.map(({ queue }) => queue.close()));
    },
  };
}
