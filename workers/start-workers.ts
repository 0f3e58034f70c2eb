import { dirname } from 'node:path';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config/config.js';
import type { Logger } from '../src/logging/create-logger.js';
import type { BackupJobData, BackupResult, PruneJobData, PruneResult, RestoreJobData, RestoreResult } from '../src/queue/job-types.js';
import type { Queues } from '../src/queue/queues.js';
import type { ApplyJobData, ApplyResult, NotifyJobData, NotifyResult, VerifyJobData, VerifyResult } from '../src/queue/job-types.js';
import { sweepStaleTemporaries } from '../src/snapshot/temporary-files.js';
import type { BackupStore } from '../src/storage/backup-store.js';
import { apply } from './apply/apply.js';
import { backup, snapshotTempDir } from './backup.js';
import { backupsBeingRestored } from './backups-being-restored.js';
import { JobLedger } from '../src/queue/job-ledger.js';
import { jobAuthenticator } from './authenticate-job.js';
import { toProcessor, type JobGate } from './bullmq-processor.js';
import { removeStalePartialRestores, restoreRootDir } from './partial-restores.js';
import { prune } from './prune.js';
import { restore } from './restore.js';
import { startPassphraseKeyring } from './passphrase-keyring.js';
import { enqueuePruneAfterBackup, GUARD_INTERVAL_MS, guardSchedule, upsertSchedule } from './schedule.js';
import { startMonitoring } from './monitoring/start-monitoring.js';

/**
 * JOB_LOCK_MS is how long a worker's lock on its active job lasts without renewal (renewed every
 * half of it): a worker that dies (SIGKILL, power loss) lets its job go at most this long after.
 */
export const JOB_LOCK_MS = 30_000;
/**
 * STALLED_CHECK_MS is how often workers look for active jobs whose lock expired and put them back
 * to wait. A dead worker's job runs again within JOB_LOCK_MS + STALLED_CHECK_MS (45 s), given
 * another live worker; BullMQ's default of 30 s would make that a minute.
 */
export const STALLED_CHECK_MS = 15_000;

/** RunningWorkers are the BullMQ workers of one process; close() lets active jobs finish first. */
export interface RunningWorkers {
  workers: Worker[];
  close(): Promise<void>;
}

export interface StartWorkersOptions {
  config: Config;
  store: BackupStore;
  queues: Queues;
  logger: Logger;
  /** Makes a new blocking connection per worker (BullMQ needs one each). */
  connect: () => Redis;
  /** Called after each job ends, for metrics. */
  onJobFinished?: (queue: string, outcome: 'completed' | 'failed', result: unknown, durationMs: number) => void;
  /** Called for each job refused before it ran (unsigned, forged, invalid), for metrics. */
  onJobRefused?: (queue: string, code: string) => void;
  /** How often the schedule is checked for tampering (default GUARD_INTERVAL_MS; tests shorten it). */
  scheduleGuardMs?: number;
  /** How long one notification delivery may take (default 10 s; tests shorten it). */
  notifyTimeoutMs?: number;
}

/**
 * startWorkers starts one worker per queue, upserts the schedule, and chains a prune after every
 * successful scheduled backup (a failed backup never triggers one).
 */
export async function startWorkers(options: StartWorkersOptions): Promise<RunningWorkers> {
  const { config, store, queues, logger } = options;
  // Temporaries of runs that died (SIGKILL, power loss): snapshots under STATE_DIR, restores beside
  // DB_PATH, partial archive restores under STATE_DIR/restore (BACKUP_LOCAL_DIR's: on the store's first put).
  await sweepStaleTemporaries(snapshotTempDir(config.stateDir), logger);
  if (config.dbPath) await sweepStaleTemporaries(dirname(config.dbPath), logger);
  await removeStalePartialRestores(restoreRootDir(config.stateDir), logger);
  // One backup at a time across every worker process: BullMQ's global concurrency lives in Redis.
  await queues.backup.setGlobalConcurrency(1);
  // One apply at a time too: two would each move the other's files aside.
  await queues.apply.setGlobalConcurrency(1);
  // Before any worker takes a job: a process started with the schedule off must not run a due slot.
  const signer = queues.signer();
  await upsertSchedule(queues.backup, config.schedule, logger, signer);
  // A Redis that restarted without persistence has forgotten both: set them again on every reconnect
  // (both are idempotent, so a Redis that kept them loses nothing, not even the pending slot's time).
  const producer = await queues.backup.backend.client;
  const restoreRedisState = (): void => {
    Promise.all([queues.backup.setGlobalConcurrency(1), upsertSchedule(queues.backup, config.schedule, logger, signer)])
      .catch((err: Error) => logger.warn('could not set the schedule again after Redis reconnected', { error: err.message }));
    queues.apply.setGlobalConcurrency(1).catch((err: Error) => logger.warn('could not set the one-apply limit again after Redis reconnected', { error: err.message }));
  };
  producer.on('ready', restoreRedisState);
  // Restore drills, notifications and the anomaly guardrail (issue 16), hooked around the jobs.
  const monitoring = await startMonitoring({
    config, store, queues, logger, signer, redis: options.connect(),
    ...(options.scheduleGuardMs !== undefined ? { guardIntervalMs: options.scheduleGuardMs } : {}),
    ...(options.notifyTimeoutMs !== undefined ? { notifyTimeoutMs: options.notifyTimeoutMs } : {}),
  });
  const restoreMonitoring = (): void => {
    monitoring.restoreRedisState().catch((err: Error) => logger.warn('could not set the drill schedule again after Redis reconnected', { error: err.message }));
  };
  producer.on('ready', restoreMonitoring);

  // Passphrase backups (issue 7): an ephemeral key, announced in Redis, that producers seal passphrases to.
  const passphrases = await startPassphraseKeyring(options.connect(), config, logger);
  const base = {
    config, store, logger, keyring: passphrases.keyring,
    backupsBeingRestored: () => backupsBeingRestored(queues.restore, queues.apply),
  };
  const monitoredBackup = monitoring.wrapBackup(backup);
  const backupThenPrune = async (data: BackupJobData, ctx: Parameters<typeof backup>[1]): Promise<BackupResult> => {
    const result = await monitoredBackup(data, ctx);
    const mayPrune = monitoring.mayPruneAfter(result);
    if (data.trigger === 'schedule' && mayPrune) await enqueuePruneAfterBackup(queues.prune, result, ctx.logger, signer);
    return result;
  };
  const workerOptions = (connection: Redis) => ({
    connection, prefix: config.queuePrefix, concurrency: 1, lockDuration: JOB_LOCK_MS, stalledInterval: STALLED_CHECK_MS,
  });
  // This host's record of the signed jobs it ran (STATE_DIR/jobs.db): no job completes twice.
  const ledger = new JobLedger(config.stateDir);
  const gate: JobGate = {
    authenticate: monitoring.authenticate(jobAuthenticator(config, signer, ledger)),
    ...(options.onJobRefused ? { onRefused: options.onJobRefused } : {}),
    // A backup request joins a backup only while it waits: once this one starts (its snapshot next),
    // a new request makes one follow-up backup, which later requests join (issue 13, finding 9).
    // Removed only if the key is this job's, so a waiting follow-up stays joinable.
    beforeRun: async (job) => {
      if (job.queueName === 'backup') await job.removeDeduplicationKey();
    },
  };
  const workers: Worker[] = [
    new Worker<BackupJobData, BackupResult>('backup', toProcessor(backupThenPrune, base, gate), workerOptions(options.connect())),
    new Worker<RestoreJobData, RestoreResult>('restore', toProcessor(restore, base, gate), workerOptions(options.connect())),
    new Worker<PruneJobData, PruneResult>('prune', toProcessor(monitoring.wrapPrune(prune), base, gate), workerOptions(options.connect())),
    new Worker<VerifyJobData, VerifyResult>('verify', toProcessor(monitoring.verify, base, gate), workerOptions(options.connect())),
    new Worker<NotifyJobData, NotifyResult>('notify', toProcessor(monitoring.notify, base, gate), workerOptions(options.connect())),
    new Worker<ApplyJobData, ApplyResult>('apply', toProcessor(apply, base, gate), workerOptions(options.connect())),
  ] as Worker[];
  // Whoever can write to Redis can rewrite the schedule's template: check it, and put ours back.
  const guard = setInterval(() => {
    guardSchedule(queues.backup, config.schedule, logger, signer)
      .catch((err: Error) => logger.warn('could not check the schedule', { error: err.message }));
  }, options.scheduleGuardMs ?? GUARD_INTERVAL_MS);
  guard.unref();

  for (const worker of workers) {
    worker.on('error', (err) => logger.warn('worker connection error', { queue: worker.name, error: err.message }));
    // Drills and notifications have their own records (issue 16): the job statistics would file them as restores.
    const counted = worker.name !== 'verify' && worker.name !== 'notify';
    worker.on('completed', (job) => {
      monitoring.jobCompleted(worker.name, job);
      if (counted) options.onJobFinished?.(worker.name, 'completed', job.returnvalue, (job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now()));
    });
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      monitoring.jobFailed(worker.name, job, err, final);
      if (final && counted) options.onJobFinished?.(worker.name, 'failed', null, (job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now()));
    });
  }
  logger.info('workers started', { queues: workers.map((w) => w.name) });
  return {
    workers,
    async close() {
      clearInterval(guard);
      monitoring.stop();
      producer.off('ready', restoreRedisState);
      producer.off('ready', restoreMonitoring);
      await Promise.all(workers.map((w) => w.close()));
      await passphrases.stop();
      ledger.close();
    },
  };
}
