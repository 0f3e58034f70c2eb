import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import { SnapkeepError } from '../errors.js';
import { JobSigner } from './job-auth.js';
import type { SourceConfig } from '../config/config.js';
import { DEFAULT_SOURCE } from '../config/sources-file.js';
import type { ApplyJobData, BackupJobData, NotifyJobData, PruneJobData, QueueName, RestoreJobData, VerifyJobData } from './job-types.js';
import { pinnedHosts, routedQueueName, ROUTED_QUEUES, sourceQueueName, type RoutedQueue } from './queue-routes.js';

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
  /**
   * Every queue, the pinned hosts' too (`backup@app-1`): the dashboard shows them and a job id is
   * looked up in them. `type` is the job type, `name` the BullMQ queue name.
   */
  all: Array<{ name: string; type: QueueName; queue: Queue }>;
  /** routed is the queue of one job type for a host (undefined: the shared one every worker consumes). */
  routed(type: RoutedQueue, host: string | undefined): Queue;
  /** forSource is the queue a source's jobs of one type go to (no name: the primary source), and the source. */
  forSource(type: RoutedQueue, sourceName: string | undefined): { queue: Queue; name: string; source: SourceConfig };
  /** The signer from MASTER_KEY; throws when the process has no master key (it cannot make jobs then). */
  signer(): JobSigner;
  close(): Promise<void>;
}

/** The scheduler's id: every serve/worker process upserts the same one, so there is one schedule. */
export const SCHEDULER_ID = 'scheduled-backup';
/** Every backup request carries this deduplication id, so a second request joins the first. */
export const BACKUP_DEDUPLICATION_ID = 'backup-in-progress';

/** backupDeduplicationId is one source's: requests for a source join each other, never another source's backup. */
export const backupDeduplicationId = (sourceName: string): string => (sourceName === DEFAULT_SOURCE ? BACKUP_DEDUPLICATION_ID : `${BACKUP_DEDUPLICATION_ID}.${sourceName}`);

/** drillSchedulerIdFor is a source's restore drill scheduler id: `scheduled-verify` for the default source. */
export const drillSchedulerIdFor = (sourceName: string): string => (sourceName === DEFAULT_SOURCE ? VERIFY_SCHEDULER_ID : `${VERIFY_SCHEDULER_ID}.${sourceName}`);

/** schedulerIdFor is a source's backup scheduler id: `scheduled-backup` for the default source, as it always was. */
export const schedulerIdFor = (sourceName: string): string => (sourceName === DEFAULT_SOURCE ? SCHEDULER_ID : `${SCHEDULER_ID}.${sourceName}`);

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

/**
 * createQueues opens the backup, restore, prune, apply, verify and notify queues under QUEUE_PREFIX,
 * and the same five (not notify) for every host a source is pinned to.
 */
export function createQueues(config: Config, connection: Redis): Queues {
  const options = { connection, prefix: config.queuePrefix, defaultJobOptions: defaultJobOptions(config) };
  const backup = new Queue<BackupJobData>('backup', options);
  const restore = new Queue<RestoreJobData>('restore', options);
  const prune = new Queue<PruneJobData>('prune', options);
  const apply = new Queue<ApplyJobData>('apply', options);
  const verify = new Queue<VerifyJobData>('verify', options);
  const notify = new Queue<NotifyJobData>('notify', { ...options, defaultJobOptions: notifyJobOptions(config) });
  const shared = { backup, restore, prune, apply, verify } as Record<RoutedQueue, Queue>;
  const all: Queues['all'] = [
    ...ROUTED_QUEUES.map((type) => ({ name: type as string, type, queue: shared[type] })),
    { name: 'notify', type: 'notify', queue: notify as Queue },
  ];
  const byName = new Map<string, Queue>(all.map(({ name, queue }) => [name, queue]));
  for (const host of pinnedHosts(config.sources)) {
    for (const type of ROUTED_QUEUES) {
      const name = routedQueueName(type, host);
      const queue = new Queue(name, options);
      all.push({ name, type, queue });
      byName.set(name, queue);
    }
  }
  const routed = (type: RoutedQueue, host: string | undefined): Queue => {
    const queue = byName.get(routedQueueName(type, host));
    // Hosts come from the declared sources, and every queue of theirs was opened above.
    if (!queue) throw new SnapkeepError('source_not_found', `no source is pinned to host ${JSON.stringify(host)}`);
    return queue;
  };
  const signer = config.masterKey ? new JobSigner(config.masterKey) : undefined;
  return {
    backup, restore, prune, apply, verify, notify, all, routed,
    forSource(type, sourceName) {
      const { name, source } = sourceQueueName(config, type, sourceName);
      return { queue: routed(type, source.host), name, source };
    },
    signer() {
      if (!signer) throw new SnapkeepError('invalid_config', 'MASTER_KEY is required to make jobs: workers run only jobs signed with it');
      return signer;
    },
    async close() {
      await Promise.all(all.map(({ queue }) => queue.close()));
    },
  };
}
