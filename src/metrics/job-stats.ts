import type { Redis } from 'ioredis';
import { newestBackup, type BackupEntry } from '../backups/list-backups.js';
import type { Logger } from '../logging/create-logger.js';
import { QUEUE_NAMES, type QueueName } from '../queue/job-types.js';
import type { Queues } from '../queue/queues.js';
import { LAST_SUCCESS_FIELD, lastSuccessSeal, recordLastSuccess, type LastSuccessSeal } from './last-success.js';

/**
 * Job statistics shared by every snapkeep process through one Redis hash. Workers add to it when a
 * job ends; any API process reads it at scrape time. That is what lets `snapkeep api` report the
 * backups that `snapkeep worker` ran: neither holds the numbers in its own memory. Counts only grow
 * (HINCRBY), survive restarts of any process, and cost one HGETALL per scrape.
 */

/** JobOutcome is how a job ended: completed, or failed after its last attempt. */
export type JobOutcome = 'completed' | 'failed';
/** JOB_OUTCOMES lists every JobOutcome, so each counter shows both, zeros included. */
export const JOB_OUTCOMES: readonly JobOutcome[] = ['completed', 'failed'];

/** DURATION_BUCKETS_SECONDS are the duration histograms' upper bounds, in seconds: a small database takes a second, a large one an hour. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

/** SIZE_BUCKETS_BYTES are the backup size histogram's upper bounds, in bytes: 64 KiB up to 64 GiB, by powers of 4. */
export const SIZE_BUCKETS_BYTES: readonly number[] = Array.from({ length: 11 }, (_, i) => 64 * 1024 * 4 ** i);

/** HISTOGRAMS are the histograms kept in the hash: field prefix and bucket bounds of each. */
export const HISTOGRAMS = {
  backupDuration: { field: 'duration:backup', buckets: DURATION_BUCKETS_SECONDS },
  restoreDuration: { field: 'duration:restore', buckets: DURATION_BUCKETS_SECONDS },
  backupSize: { field: 'size:backup', buckets: SIZE_BUCKETS_BYTES },
} as const;
/** HistogramName names one of HISTOGRAMS. */
export type HistogramName = keyof typeof HISTOGRAMS;

/** HistogramCounts is one histogram as stored: per-bucket (not cumulative) counts, sum and count. */
export interface HistogramCounts {
  /** counts[i] observations fell in (bounds[i-1], bounds[i]]; values above the last bound are only in count. */
  buckets: number[];
  sum: number;
  count: number;
}

/** JobStats is everything the hash holds, parsed. */
export interface JobStats {
  outcomes: Record<QueueName, Record<JobOutcome, number>>;
  histograms: Record<HistogramName, HistogramCounts>;
  /**
   * Unix seconds of the newest successful backup (its snapshot time), as sealed by a master-key
   * holder (last-success.ts); 0 when none is known or none can be verified.
   */
  lastSuccessfulBackup: number;
  /** The stored last-success value when its MAC failed: someone else wrote it. */
  forgedLastSuccess?: string;
}

/**
 * jobStatsKey is the hash's key, under QUEUE_PREFIX so that deployments sharing a Redis stay apart
 * and a `{hash-tag}` prefix keeps it in the queues' Redis Cluster slot.
 */
export function jobStatsKey(queues: Queues): string {
  return `${queues.backup.opts.prefix ?? 'bull'}:stats`;
}

/** JobFinished is one job's end as the workers report it (the onJobFinished callback's arguments). */
export interface JobFinished {
  queue: string;
  outcome: JobOutcome;
  result: unknown;
  durationMs: number;
}

const isQueueName = (name: string): name is QueueName => (QUEUE_NAMES as readonly string[]).includes(name);

/** bucketIndex is the first bound a value fits under, or -1 above them all. */
function bucketIndex(bounds: readonly number[], value: number): number {
  return bounds.findIndex((bound) => value <= bound);
}

/** recordJobFinished adds one finished job to the shared statistics, in one MULTI, then raises the sealed last-success time. */
export async function recordJobFinished(redis: Redis, key: string, event: JobFinished, options: { seal?: LastSuccessSeal | undefined; logger?: Logger } = {}): Promise<void> {
  if (!isQueueName(event.queue)) return;
  const multi = redis.multi().hincrby(key, `jobs:${event.queue}:${event.outcome}`, 1);
  const observe = (name: HistogramName, value: number): void => {
    const { field, buckets } = HISTOGRAMS[name];
    const index = bucketIndex(buckets, value);
    if (index >= 0) multi.hincrby(key, `${field}:le:${buckets[index]}`, 1);
    multi.hincrbyfloat(key, `${field}:sum`, value).hincrby(key, `${field}:count`, 1);
  };
  if (event.outcome === 'completed' && (event.queue === 'backup' || event.queue === 'restore')) {
    observe(event.queue === 'backup' ? 'backupDuration' : 'restoreDuration', Math.max(0, event.durationMs) / 1000);
  }
  const completedBackup = event.outcome === 'completed' && event.queue === 'backup';
  const { size, createdAt } = completedBackup ? backupFacts(event.result) : {};
  if (size !== undefined) observe('backupSize', size);
  await multi.exec();
  if (completedBackup) await recordLastSuccess(redis, options.seal, createdAt ?? Date.now() / 1000, options.logger);
}

/** backupFacts reads size and snapshot time from a backup job's result, which arrives untyped from Redis. */
function backupFacts(result: unknown): { size?: number; createdAt?: number } {
  if (typeof result !== 'object' || result === null) return {};
  const { size, createdAt } = result as { size?: unknown; createdAt?: unknown };
  const time = typeof createdAt === 'string' ? Date.parse(createdAt) : Number.NaN;
  return {
    ...(typeof size === 'number' && size >= 0 ? { size } : {}),
    ...(Number.isNaN(time) ? {} : { createdAt: time / 1000 }),
  };
}

/** readJobStats reads the whole hash in one HGETALL; the last-success time only as far as seal verifies it. */
export async function readJobStats(redis: Redis, key: string, seal?: LastSuccessSeal): Promise<JobStats> {
  return parseJobStats(await redis.hgetall(key), seal);
}

/** parseJobStats turns the hash's fields into JobStats; missing fields are zero, and so is a last-success time seal cannot verify. */
export function parseJobStats(fields: Record<string, string>, seal?: LastSuccessSeal): JobStats {
  const num = (field: string): number => {
    const value = Number(fields[field] ?? 0);
    return Number.isFinite(value) ? value : 0;
  };
  const outcomes = Object.fromEntries(QUEUE_NAMES.map((queue) => [
    queue, Object.fromEntries(JOB_OUTCOMES.map((outcome) => [outcome, num(`jobs:${queue}:${outcome}`)])),
  ])) as JobStats['outcomes'];
  const histogram = ({ field, buckets }: (typeof HISTOGRAMS)[HistogramName]): HistogramCounts => ({
    buckets: buckets.map((bound) => num(`${field}:le:${bound}`)),
    sum: num(`${field}:sum`),
    count: num(`${field}:count`),
  });
  const lastSuccess = seal?.open(fields[LAST_SUCCESS_FIELD]);
  return {
    outcomes,
    histograms: {
      backupDuration: histogram(HISTOGRAMS.backupDuration),
      restoreDuration: histogram(HISTOGRAMS.restoreDuration),
      backupSize: histogram(HISTOGRAMS.backupSize),
    },
    lastSuccessfulBackup: typeof lastSuccess === 'number' ? lastSuccess : 0,
    ...(lastSuccess === 'forged' ? { forgedLastSuccess: fields[LAST_SUCCESS_FIELD]! } : {}),
  };
}

/**
 * jobStatsRecorder is the workers' onJobFinished callback: it records in the background and only
 * logs a failure, because a metrics write must never fail or delay a job. The master key seals
 * the last-success time.
 */
export function jobStatsRecorder(redis: Redis, key: string, logger: Logger, masterKey: Buffer | undefined): (queue: string, outcome: JobOutcome, result: unknown, durationMs: number) => void {
  const seal = lastSuccessSeal(key, masterKey);
  return (queue, outcome, result, durationMs) => {
    recordJobFinished(redis, key, { queue, outcome, result, durationMs }, { seal, logger })
      .catch((err: unknown) => logger.warn('could not record job metrics', { queue, outcome, error: err instanceof Error ? err.message : String(err) }));
  };
}

/**
 * seedLastSuccessfulBackup raises the shared last-success time to the newest backup in the store
 * that is not future-dated (a name planted for 2099 must not count). A worker calls it at start, in
 * the background: one listing, and it never delays or fails the start.
 */
export async function seedLastSuccessfulBackup(
  redis: Redis, key: string, listBackups: () => Promise<readonly BackupEntry[]>, logger: Logger, masterKey: Buffer | undefined,
): Promise<void> {
  try {
    const newest = newestBackup(await listBackups());
    if (newest) await recordLastSuccess(redis, lastSuccessSeal(key, masterKey), Date.parse(newest.createdAt) / 1000, logger);
  } catch (err) {
    logger.warn('could not read the newest backup for metrics', { error: err instanceof Error ? err.message : String(err) });
  }
}
