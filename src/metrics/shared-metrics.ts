import type { QueueName } from '../queue/job-types.js';
import { HISTOGRAMS, JOB_OUTCOMES, type HistogramCounts, type HistogramName, type JobStats } from './job-stats.js';

/**
 * MetricJson is one metric in the shape prom-client's `registry.getMetricsAsJSON()` produces and
 * `AggregatorRegistry.aggregate()` accepts: the documented way to expose metrics that were counted
 * elsewhere (here: by the workers, in Redis) with prom-client's own formatting.
 */
export interface MetricJson {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
}

/** QueueCounts is BullMQ's getJobCounts() per queue. */
export type QueueCounts = Record<QueueName, Record<string, number>>;

/** QUEUE_STATES are the BullMQ states the queue-depth gauge reports. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

const OUTCOME_COUNTERS: Array<{ queue: QueueName; name: string; help: string }> = [
  { queue: 'backup', name: 'snapkeep_backups_total', help: 'Backup jobs finished, by outcome (failed: after the last attempt), across every worker.' },
  { queue: 'restore', name: 'snapkeep_restores_total', help: 'Restore jobs finished, by outcome (failed: after the last attempt), across every worker.' },
  { queue: 'prune', name: 'snapkeep_prunes_total', help: 'Prune jobs finished, by outcome (failed: after the last attempt), across every worker.' },
  { queue: 'apply', name: 'snapkeep_applies_total', help: 'Apply jobs (`backup apply` through the API) finished, by outcome; a failed apply put the live files back.' },
];

const HISTOGRAM_HELP: Record<HistogramName, { name: string; help: string }> = {
  backupDuration: { name: 'snapkeep_backup_duration_seconds', help: 'Duration of successful backup jobs (snapshot, encryption and upload), in seconds.' },
  restoreDuration: { name: 'snapkeep_restore_duration_seconds', help: 'Duration of successful restore jobs (download, decryption and verification), in seconds.' },
  backupSize: { name: 'snapkeep_backup_size_bytes', help: 'Size of stored backups (encrypted), in bytes.' },
};

/** histogramJson writes stored per-bucket counts as Prometheus's cumulative `_bucket`, `_sum`, `_count`. */
function histogramJson(name: string, help: string, bounds: readonly number[], counts: HistogramCounts): MetricJson {
  let cumulative = 0;
  const buckets = bounds.map((le, i) => {
    cumulative += counts.buckets[i] ?? 0;
    return { labels: { le }, value: cumulative, metricName: `${name}_bucket` };
  });
  return {
    name, help, type: 'histogram', aggregator: 'sum',
    values: [
      ...buckets,
      { labels: { le: '+Inf' }, value: counts.count, metricName: `${name}_bucket` },
      { labels: {}, value: counts.sum, metricName: `${name}_sum` },
      { labels: {}, value: counts.count, metricName: `${name}_count` },
    ],
  };
}

/**
 * sharedMetricsJson builds the metrics read from Redis at scrape time. With Redis unreachable
 * (stats undefined) they are left out rather than reported as zeros, and `snapkeep_redis_up` says why.
 */
export function sharedMetricsJson(stats: JobStats | undefined, counts: QueueCounts | undefined): MetricJson[] {
  const metrics: MetricJson[] = [{
    name: 'snapkeep_redis_up', help: 'Whether this process reached Redis for this scrape (1) or not (0).',
    type: 'gauge', aggregator: 'sum', values: [{ labels: {}, value: stats && counts ? 1 : 0 }],
  }];
  if (stats) {
    for (const { queue, name, help } of OUTCOME_COUNTERS) {
      metrics.push({
        name, help, type: 'counter', aggregator: 'sum',
        values: JOB_OUTCOMES.map((outcome) => ({ labels: { outcome }, value: stats.outcomes[queue][outcome] })),
      });
    }
    for (const key of Object.keys(HISTOGRAMS) as HistogramName[]) {
      const { name, help } = HISTOGRAM_HELP[key];
      metrics.push(histogramJson(name, help, HISTOGRAMS[key].buckets, stats.histograms[key]));
    }
    metrics.push({
      name: 'snapkeep_last_successful_backup_timestamp_seconds',
      help: 'Unix time of the newest successful backup (its snapshot time); 0 when there has been none. Alert when time() minus this exceeds the schedule.',
      type: 'gauge', aggregator: 'sum', values: [{ labels: {}, value: stats.lastSuccessfulBackup }],
    });
  }
  if (counts) {
    metrics.push({
      name: 'snapkeep_queue_jobs', help: 'Jobs in each BullMQ queue by state, read from Redis at scrape time (completed and failed are the retained history).',
      type: 'gauge', aggregator: 'sum',
      values: (Object.keys(counts) as QueueName[]).flatMap((queue) =>
        QUEUE_STATES.map((state) => ({ labels: { queue, state }, value: counts[queue][state] ?? 0 }))),
    });
  }
  return metrics;
}
