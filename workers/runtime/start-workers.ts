import { dirname } from 'node:path';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config/config.js';
import type { Logger } from '../../src/logging/create-logger.js';
import type { BackupJobData, BackupResult, NotifyJobData, NotifyResult } from '../../src/queue/job-types.js';
import type { Queues } from '../../src/queue/queues.js';
import { sweepStaleTemporaries } from '../../src/snapshot/temporary-files.js';
import type { BackupStore } from '../../src/storage/backup-store.js';
import { apply } from '../apply/apply.js';
import { backup, snapshotTempDir } from '../backup/backup.js';
import { backupsBeingRestored } from './backups-being-restored.js';
import { JobLedger } from '../../src/queue/job-ledger.js';
import { jobAuthenticator } from './authenticate-job.js';
import { toProcessor, type JobGate } from './bullmq-processor.js';
import { removeStalePartialRestores, restoreRootDir } from '../restore/partial-restores.js';
import { prune } from '../prune/prune.js';
import { restore } from '../restore/restore.js';
import { startPassphraseKeyring } from './passphrase-keyring.js';
import { enqueuePruneAfterBackup, GUARD_INTERVAL_MS, guardSchedulers, upsertScheduler } from './schedule.js';
import { startMonitoring } from '../monitoring/start-monitoring.js';
import type { Queue } from 'bullmq';
import { DelayedError } from 'bullmq';
import { configForSource, primarySource, servesSource } from '../../src/config/source-config.js';
import { createStore } from '../../src/storage/create-store.js';
import { parseQueueName, routedQueueName, ROUTED_QUEUES, type RoutedQueue } from '../../src/queue/queue-routes.js';
import type { JobBase } from './bullmq-processor.js';
import { sourceLock } from './source-lock.js';
import { backupSchedulersOn } from './source-schedules.js';
import { publishPresence } from '../../src/fleet/worker-presence.js';
import { SourceStatus } from '../../src/fleet/source-status.js';

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

/** A backup whose source is busy is looked at again this long after (it shows as delayed meanwhile). */
const SOURCE_BUSY_RETRY_MS = 2_000;

/**
 * startWorkers starts the workers of every queue this host consumes (the shared ones, and its own
 * `…@SNAPKEEP_HOST` ones when a source is pinned to it), upserts the backup schedule of every source
 * it serves, and chains a prune after every successful scheduled backup (a failed backup never
 * triggers one).
 */
export async function startWorkers(options: StartWorkersOptions): Promise<RunningWorkers> {
  const { config, store, queues, logger } = options;
  const served = config.sources.filter((source) => servesSource(config, source));
  // The queues this host takes jobs from: the shared ones always, its own when a source names it.
  const hosts: Array<string | undefined> = [undefined, ...(served.some((s) => s.host === config.fleetHost) ? [config.fleetHost] : [])];
  // Temporaries of runs that died (SIGKILL, power loss): snapshots under STATE_DIR, restores beside
  // each database, partial archive restores under STATE_DIR/restore (BACKUP_LOCAL_DIR's: on the store's first put).
  await sweepStaleTemporaries(snapshotTempDir(config.stateDir), logger);
  for (const dir of new Set(served.flatMap((s) => (s.dbPath ? [dirname(s.dbPath)] : [])))) await sweepStaleTemporaries(dir, logger);
  await removeStalePartialRestores(restoreRootDir(config.stateDir), logger);
  const signer = queues.signer();
  // Each source's schedule lives in the queue its backups go to, one scheduler per source however
  // many workers serve it. A queue's guard knows every source routed there (not only those served here).
  const schedulersOf = (host: string | undefined) => backupSchedulersOn(config.sources, host);
  const setRedisState = async (): Promise<void> => {
    for (const host of hosts) {
      // BACKUP_CONCURRENCY backups at once per queue across every worker; one per source (the lock below).
      await queues.routed('backup', host).setGlobalConcurrency(config.backupConcurrency);
      // One apply at a time: two would each move the other's files aside.
      await queues.routed('apply', host).setGlobalConcurrency(1);
    }
    // Before any worker takes a job: a process started with a schedule off must not run a due slot.
    for (const source of served) {
      const [spec] = backupSchedulersOn([source], source.host);
      await upsertScheduler(queues.routed('backup', source.host), spec!, logger, signer);
    }
  };
  await setRedisState();
  // A Redis that restarted without persistence has forgotten all of it: set it again on every
  // reconnect (idempotent, so a Redis that kept it loses nothing, not even a pending slot's time).
  const producer = await queues.backup.backend.client;
  const restoreRedisState = (): void => {
    setRedisState().catch((err: Error) => logger.warn('could not set the schedules and limits again after Redis reconnected', { error: err.message }));
  };
  producer.on('ready', restoreRedisState);
  // Restore drills, notifications and the anomaly guardrail (issue 16), hooked around the jobs.
  const monitoring = await startMonitoring({
    config, store, queues, logger, signer, redis: options.connect(),
    sources: config.sources, served, hosts, scope: (name) => baseFor(name),
    ...(options.scheduleGuardMs !== undefined ? { guardIntervalMs: options.scheduleGuardMs } : {}),
    ...(options.notifyTimeoutMs !== undefined ? { notifyTimeoutMs: options.notifyTimeoutMs } : {}),
  });
  const restoreMonitoring = (): void => {
    monitoring.restoreRedisState().catch((err: Error) => logger.warn('could not set the drill schedule again after Redis reconnected', { error: err.message }));
  };
  producer.on('ready', restoreMonitoring);

  // Passphrase backups (issue 7): an ephemeral key, announced in Redis, that producers seal passphrases to.
  const passphrases = await startPassphraseKeyring(options.connect(), config, logger);
  // Each source's jobs run with its own scoped settings and store, built once.
  const bases = new Map<string, JobBase>();
  const primary = primarySource(config.sources);
  const baseFor = (sourceName: string | undefined): JobBase => {
    const name = sourceName ?? primary?.name;
    const cached = bases.get(name ?? '');
    if (cached) return cached;
    const scoped = name === undefined ? config : configForSource(config, name);
    const host = config.sources.find((s) => s.name === name)?.host;
    const base: JobBase = {
      config: scoped,
      store: scoped.sourceName === config.sourceName ? store : createStore(scoped.store!, { logger }),
      logger, keyring: passphrases.keyring,
      backupsBeingRestored: () => backupsBeingRestored(queues.routed('restore', host), queues.routed('apply', host)),
    };
    bases.set(name ?? '', base);
    return base;
  };
  const monitoredBackup = monitoring.wrapBackup(backup);
  const backupThenPrune = async (data: BackupJobData, ctx: Parameters<typeof backup>[1]): Promise<BackupResult> => {
    const result = await monitoredBackup(data, ctx);
    const mayPrune = monitoring.mayPruneAfter(result);
    if (data.trigger === 'schedule' && mayPrune) {
      const source = ctx.config.sourceName;
      await enqueuePruneAfterBackup(queues.forSource('prune', source), source, result, ctx.logger, signer);
    }
    return result;
  };
  const workerOptions = (connection: Redis, concurrency = 1) => ({
    connection, prefix: config.queuePrefix, concurrency, lockDuration: JOB_LOCK_MS, stalledInterval: STALLED_CHECK_MS,
  });
  // This host's record of the signed jobs it ran (STATE_DIR/jobs.db): no job completes twice.
  const ledger = new JobLedger(config.stateDir);
  const locks = sourceLock(options.connect(), config.queuePrefix);
  const sourceOf = (data: unknown): string => configForSource(config, (data as { source?: string }).source).sourceName;
  const gate: JobGate = {
    authenticate: monitoring.authenticate(jobAuthenticator(config, signer, ledger)),
    ...(options.onJobRefused ? { onRefused: options.onJobRefused } : {}),
    // A backup request joins a backup only while it waits: once this one starts (its snapshot next),
    // a new request makes one follow-up backup, which later requests join (issue 13, finding 9).
    // Removed only if the key is this job's, so a waiting follow-up stays joinable. Then one backup
    // per source: a backup of a busy source waits (delayed) and looks again shortly.
    beforeRun: async (job, data, token) => {
      if (parseQueueName(job.queueName)?.type !== 'backup') return;
      await job.removeDeduplicationKey();
      if (!(await locks.tryAcquire(sourceOf(data), String(job.id)))) {
        await job.moveToDelayed(Date.now() + SOURCE_BUSY_RETRY_MS, token);
        throw new DelayedError();
      }
    },
    afterRun: async (job, data) => {
      if (parseQueueName(job.queueName)?.type === 'backup') await locks.release(sourceOf(data), String(job.id));
    },
  };
  const processors = {
    backup: toProcessor(backupThenPrune, baseFor, gate),
    restore: toProcessor(restore, baseFor, gate),
    prune: toProcessor(monitoring.wrapPrune(prune), baseFor, gate),
    verify: toProcessor(monitoring.verify, baseFor, gate),
    apply: toProcessor(apply, baseFor, gate),
  } satisfies Record<RoutedQueue, unknown>;
  const workers: Worker[] = [
    ...hosts.flatMap((host) => ROUTED_QUEUES.map((type) => new Worker(
      routedQueueName(type, host), processors[type] as never, workerOptions(options.connect(), type === 'backup' ? config.backupConcurrency : 1),
    ))),
    new Worker<NotifyJobData, NotifyResult>('notify', toProcessor(monitoring.notify, baseFor, gate), workerOptions(options.connect())),
  ] as Worker[];
  // Whoever can write to Redis can rewrite a schedule's template: check them, and put ours back.
  const guard = setInterval(() => {
    void (async () => {
      for (const host of hosts) await guardSchedulers(queues.routed('backup', host) as Queue, schedulersOf(host), logger, signer);
    })().catch((err: Error) => logger.warn('could not check the schedules', { error: err.message }));
  }, options.scheduleGuardMs ?? GUARD_INTERVAL_MS);
  guard.unref();

  // The API tells from these which sources have a live worker, and when each last backed up and passed a drill.
  const presence = await publishPresence(options.connect(), {
    queuePrefix: config.queuePrefix, masterKey: config.masterKey!, logger, presence: { host: config.fleetHost, sources: served.map((s) => s.name) },
  });
  const status = new SourceStatus(producer as unknown as Redis, config.queuePrefix, [config.masterKey]);
  const noteSourceEvent = (type: string, result: unknown): void => {
    const r = result as { source?: string; verified?: boolean; verifications?: unknown[] } | undefined;
    if (typeof r?.source !== 'string') return;
    const event = type === 'backup' ? 'backup' : type === 'verify' && r.verified === true && (r.verifications?.length ?? 0) > 0 ? 'verified' : undefined;
    if (event) status.record(r.source, event, new Date()).catch((err: Error) => logger.warn('could not record the source\'s status', { source: r.source, error: err.message }));
  };

  for (const worker of workers) {
    const type = parseQueueName(worker.name)?.type ?? worker.name;
    worker.on('error', (err) => logger.warn('worker connection error', { queue: worker.name, error: err.message }));
    // Drills and notifications have their own records (issue 16): the job statistics would file them as restores.
    const counted = type !== 'verify' && type !== 'notify';
    worker.on('completed', (job) => {
      monitoring.jobCompleted(type, job);
      noteSourceEvent(type, job.returnvalue);
      if (counted) options.onJobFinished?.(type, 'completed', job.returnvalue, (job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now()));
    });
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      monitoring.jobFailed(type, job, err, final);
      if (final && counted) options.onJobFinished?.(type, 'failed', null, (job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now()));
    });
  }
  logger.info('workers started', { host: config.fleetHost, queues: workers.map((w) => w.name), sources: served.map((s) => s.name) });
  return {
    workers,
    async close() {
      clearInterval(guard);
      monitoring.stop();
      producer.off('ready', restoreRedisState);
      producer.off('ready', restoreMonitoring);
      await Promise.all(workers.map((w) => w.close()));
      await presence.stop();
      await passphrases.stop();
      ledger.close();
    },
  };
}
