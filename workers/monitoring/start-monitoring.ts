import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config/config.js';
import type { Logger } from '../../src/logging/create-logger.js';
import { createNotifier, type Notifier } from '../../src/notify/notifier.js';
import type { JobSigner } from '../../src/queue/job-auth.js';
import type {
  BackupJobData, BackupResult, NotifyJobData, NotifyResult, PruneJobData, PruneResult, VerifyJobData, VerifyResult,
} from '../../src/queue/job-types.js';
import type { Queues } from '../../src/queue/queues.js';
import type { BackupStore } from '../../src/storage/backup-store.js';
import { VerificationRecords, verificationsKey } from '../../src/verification/verification-records.js';
import type { AuthenticateJob } from '../runtime/authenticate-job.js';
import type { JobFunction } from '../runtime/bullmq-processor.js';
import { checkForAnomaly } from '../guardrail/check-anomaly.js';
import { notifyJob } from '../notify/notify.js';
import { drillSchedulerSpec, GUARD_INTERVAL_MS, guardSchedulers, upsertScheduler } from '../runtime/schedule.js';
import type { SourceConfig } from '../../src/config/config.js';
import { DEFAULT_SOURCE } from '../../src/config/sources-file.js';
import { verify } from '../verify/verify.js';
import { checkMissedSchedule, schedulePeriodMs } from './missed-schedule.js';

/** MonitoringOptions are the worker process's parts, and knobs tests shorten. */
export interface MonitoringOptions {
  config: Config;
  store: BackupStore;
  queues: Queues;
  logger: Logger;
  signer: JobSigner;
  /** A connection of its own: verification records are written with it. */
  redis: Redis;
  /** How often the drill schedule is checked for tampering (default GUARD_INTERVAL_MS). */
  guardIntervalMs?: number;
  /** How long one notification delivery may take (default DELIVERY_TIMEOUT_MS). */
  notifyTimeoutMs?: number;
  /** Every declared source (a drill queue's guard knows them all), and those this worker serves. */
  sources: readonly SourceConfig[];
  served: readonly SourceConfig[];
  /** The hosts whose queues this worker consumes (undefined: the shared ones). */
  hosts: ReadonlyArray<string | undefined>;
  /** A source's scoped settings and store, as its jobs get them. */
  scope: (source: string) => { config: Config; store: BackupStore };
}

/**
 * Monitoring is issue 16 inside a worker process: restore drills, notifications and the anomaly
 * guardrail, hooked around the job functions from outside them (the backup, restore and prune
 * functions know nothing of it). Nothing here may fail or delay a backup beyond its own store
 * reads: notifications are only enqueued, and every failure of this machinery is logged.
 */
export interface Monitoring {
  /** wrapBackup adds healthchecks pings, the anomaly check and the success notification around a backup. */
  wrapBackup(run: JobFunction<BackupJobData, BackupResult>): JobFunction<BackupJobData, BackupResult>;
  /** mayPruneAfter is false when a backup's anomaly check could not run: a prune then might remove the last good copy. */
  mayPruneAfter(result: BackupResult): boolean;
  /** wrapPrune sends `prune.deleted` and forgets the deleted backups' verification records. */
  wrapPrune(run: JobFunction<PruneJobData, PruneResult>): JobFunction<PruneJobData, PruneResult>;
  /** The `verify` job: drills, then each result recorded (signed) and a failure notified. */
  verify: JobFunction<VerifyJobData, VerifyResult>;
  /** The `notify` job: one delivery. */
  notify: JobFunction<NotifyJobData, NotifyResult>;
  /** authenticate wraps the job gate, remembering each job's authenticated data for jobFailed. */
  authenticate(inner: AuthenticateJob): AuthenticateJob;
  /** jobFailed is told of every failed attempt; after the last one of a backup or drill it notifies. */
  jobFailed(queue: string, job: Job, error: Error, final: boolean): void;
  jobCompleted(queue: string, job: Job): void;
  /** restoreRedisState sets the notify queue's one-at-a-time limit and the drill schedule again (a Redis restart forgets them). */
  restoreRedisState(): Promise<void>;
  stop(): void;
}

/** startMonitoring sets up the drill schedule and the notify queue's limit, and starts the periodic checks. */
export async function startMonitoring(options: MonitoringOptions): Promise<Monitoring> {
  const { config, queues, logger, signer } = options;
  const notifier = createNotifier({ config, queues, logger });
  const records = new VerificationRecords(options.redis, verificationsKey(queues), [config.masterKey, ...config.previousMasterKeys]);
  // One drill schedule per source, in the source's verify queue; a queue's guard knows every source routed there.
  const drillsOn = (host: string | undefined) => options.sources.filter((s) => s.host === host).map((s) => drillSchedulerSpec(config.verifySchedule, s));
  const restoreRedisState = async (): Promise<void> => {
    // One delivery at a time across every worker: a healthchecks success ping never overtakes its start ping.
    await queues.notify.setGlobalConcurrency(1);
    for (const source of options.served) await upsertScheduler(queues.routed('verify', source.host), drillSchedulerSpec(config.verifySchedule, source), logger, signer);
  };
  await restoreRedisState();
  const timers = [
    setInterval(() => {
      void (async () => {
        for (const host of options.hosts) await guardSchedulers(queues.routed('verify', host), drillsOn(host), logger, signer);
      })().catch((err: Error) => logger.warn('could not check the drill schedules', { error: err.message }));
    }, options.guardIntervalMs ?? GUARD_INTERVAL_MS),
  ];
  const startedAt = Date.now();
  for (const source of options.served) {
    const period = schedulePeriodMs(source.schedule);
    if (period === undefined) continue;
    // Often enough to say so soon after twice the period has passed; a listing every 10 minutes at most.
    const every = Math.max(1000, Math.min(period / 2, 10 * 60_000));
    timers.push(setInterval(() => {
      checkMissedSchedule({ ...options.scope(source.name), logger, notifier, startedAt }).catch((err: Error) => logger.warn('could not check for missed backups', { source: source.name, error: err.message }));
    }, every));
  }
  for (const timer of timers) timer.unref();

  const authenticated = new Map<string, unknown>();
  const keyOf = (queue: string, job: Job): string => `${queue}/${String(job.id)}`;
  const uncheckedBackups = new Set<string>();

  return {
    wrapBackup: (run) => async (data, ctx) => {
      if (data.trigger === 'schedule') await notifier.ping('start', 'snapkeep: scheduled backup started');
      const result = await run(data, ctx);
      const anomaly = await checkForAnomaly(result, ctx).catch((err: Error) => {
        uncheckedBackups.add(result.backupId);
        ctx.logger.error('could not check the backup for an anomaly; no prune follows it', { backupId: result.backupId, error: err.message });
        return undefined;
      });
      if (data.trigger === 'schedule') await notifier.ping('success', `snapkeep: backup ${result.backupId} stored (${result.size} bytes)`);
      await notifier.notify({
        event: 'backup.succeeded', backupId: result.backupId, message: `backup ${result.backupId} stored (${result.size} bytes)`,
        details: { source: ctx.config.sourceName, key: result.key, size: result.size, databaseSize: result.databaseSize, durationMs: result.durationMs, kind: result.kind, trigger: data.trigger },
      });
      if (anomaly) {
        await notifier.notify({
          event: 'backup.anomaly', backupId: anomaly.backupId,
          message: `backup ${anomaly.backupId} looks like an emptied database: ${anomaly.reasons.join('; ')}. Backup ${anomaly.previousId} is kept until \`snapkeep backup accept --id ${anomaly.backupId}\``,
          details: { source: ctx.config.sourceName, reasons: anomaly.reasons, previousId: anomaly.previousId },
        });
      }
      return result;
    },
    mayPruneAfter: (result) => !uncheckedBackups.delete(result.backupId),
    wrapPrune: (run) => async (data, ctx) => {
      const result = await run(data, ctx);
      if (!data.dryRun && result.deleted.length > 0) {
        await records.forget(result.deleted).catch((err: Error) => ctx.logger.warn('could not forget the verification records of deleted backups', { error: err.message }));
        await notifier.notify({
          event: 'prune.deleted', message: `prune deleted ${result.deleted.length} backup${result.deleted.length === 1 ? '' : 's'}, kept ${result.kept.length}`,
          details: { source: ctx.config.sourceName, deleted: result.deleted.length, kept: result.kept.length, deletedIds: result.deleted },
        });
      }
      return result;
    },
    verify: async (data, ctx) => {
      const result = await verify(data, ctx);
      for (const v of result.verifications) {
        await records.record(v).catch((err: Error) => ctx.logger.error('could not record a restore drill', { backupId: v.backupId, error: err.message }));
        if (v.verified) continue;
        await notifier.notify({
          event: 'verify.failed', backupId: v.backupId,
          message: `backup ${v.backupId} failed its restore drill at ${v.failedCheck}: ${v.reason}`,
          details: { source: ctx.config.sourceName, check: v.failedCheck, reason: v.reason, trigger: data.trigger },
        });
      }
      return result;
    },
    notify: notifyJob(options.notifyTimeoutMs !== undefined ? { timeoutMs: options.notifyTimeoutMs } : {}),
    authenticate: (inner) => async (job) => {
      const result = await inner(job);
      authenticated.set(keyOf(job.queueName, job), result.data);
      return result;
    },
    jobFailed(queue, job, error, final) {
      const data = authenticated.get(keyOf(queue, job));
      authenticated.delete(keyOf(queue, job));
      // A job refused at the gate never had authenticated data: it is counted and logged, not notified.
      if (!final || data === undefined) return;
      void notifyFailure(notifier, queue, job, error, data as BackupJobData | VerifyJobData);
    },
    jobCompleted(queue, job) {
      authenticated.delete(keyOf(queue, job));
    },
    restoreRedisState,
    stop() {
      for (const timer of timers) clearInterval(timer);
    },
  };
}

/** notifyFailure sends `backup.failed` (and the healthchecks fail ping) or `verify.failed` for a job's last failed attempt. */
async function notifyFailure(notifier: Notifier, queue: string, job: Job, error: Error, data: BackupJobData | VerifyJobData): Promise<void> {
  const jobId = String(job.id);
  const attempts = `${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'}`;
  if (queue === 'backup') {
    if (data.trigger === 'schedule') await notifier.ping('fail', `snapkeep: scheduled backup failed: ${error.message}`);
    await notifier.notify({
      event: 'backup.failed', jobId, message: `backup failed after ${attempts}: ${error.message}`,
      details: { source: data.source ?? DEFAULT_SOURCE, attempts: job.attemptsMade, trigger: data.trigger },
    }, { dedupeKey: jobId });
  } else if (queue === 'verify') {
    const backupId = (data as VerifyJobData).backupId;
    await notifier.notify({
      event: 'verify.failed', jobId, ...(backupId !== undefined ? { backupId } : {}),
      message: `the restore drill could not run (after ${attempts}): ${error.message}`,
      details: { source: data.source ?? DEFAULT_SOURCE, attempts: job.attemptsMade, trigger: data.trigger },
    }, { dedupeKey: jobId });
  }
}
