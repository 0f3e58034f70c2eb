import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS_SECONDS, parseJobStats } from '../../src/metrics/job-stats.js';
import { LastSuccessSeal } from '../../src/metrics/last-success.js';
import { sharedMetricsJson, type QueueCounts } from '../../src/metrics/shared-metrics.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';

const render = (json: ReturnType<typeof sharedMetricsJson>): Promise<string> => AggregatorRegistry.aggregate([json]).metrics();

describe('shared job metrics', () => {
  it('turns the stored per-bucket counts into cumulative Prometheus buckets', async () => {
    const seal = new LastSuccessSeal(Buffer.alloc(32, 7), 'bull:stats');
    const stats = parseJobStats({
      'jobs:backup:completed': '3', 'jobs:backup:failed': '1', 'jobs:restore:completed': '2',
      'duration:backup:le:1': '1', 'duration:backup:le:10': '1', 'duration:backup:sum': '8000.25', 'duration:backup:count': '3',
      'last_success:backup': seal.seal(1763784000.5),
    }, seal);
    const samples = parsePrometheusText(await render(sharedMetricsJson(stats, undefined)));
    expect(sampleValue(samples, 'snapkeep_backups_total', { outcome: 'completed' })).toBe(3);
    expect(sampleValue(samples, 'snapkeep_backups_total', { outcome: 'failed' })).toBe(1);
    expect(sampleValue(samples, 'snapkeep_restores_total', { outcome: 'failed' })).toBe(0);
    expect(sampleValue(samples, 'snapkeep_prunes_total', { outcome: 'completed' })).toBe(0);
    const bucket = (le: string): number | undefined => sampleValue(samples, 'snapkeep_backup_duration_seconds_bucket', { le });
    expect([bucket('0.5'), bucket('1'), bucket('5'), bucket('10'), bucket('7200'), bucket('+Inf')]).toEqual([0, 1, 1, 2, 2, 3]);
    expect(samples.filter((s) => s.name === 'snapkeep_backup_duration_seconds_bucket')).toHaveLength(DURATION_BUCKETS_SECONDS.length + 1);
    expect(sampleValue(samples, 'snapkeep_backup_duration_seconds_sum')).toBe(8000.25);
    expect(sampleValue(samples, 'snapkeep_last_successful_backup_timestamp_seconds')).toBe(1763784000.5);
    expect(sampleValue(samples, 'snapkeep_redis_up')).toBe(0);
  });

  it('declares each metric with its Prometheus type', async () => {
    const counts = { backup: { waiting: 2, active: 1 }, restore: {}, prune: { failed: 4 } } as unknown as QueueCounts;
    const text = await render(sharedMetricsJson(parseJobStats({}), counts));
    expect(text).toContain('# TYPE snapkeep_backups_total counter');
    expect(text).toContain('# TYPE snapkeep_backup_size_bytes histogram');
    expect(text).toContain('# TYPE snapkeep_queue_jobs gauge');
    const samples = parsePrometheusText(text);
    expect(sampleValue(samples, 'snapkeep_queue_jobs', { queue: 'backup', state: 'waiting' })).toBe(2);
    expect(sampleValue(samples, 'snapkeep_queue_jobs', { queue: 'restore', state: 'delayed' })).toBe(0);
    expect(sampleValue(samples, 'snapkeep_queue_jobs', { queue: 'prune', state: 'failed' })).toBe(4);
    expect(sampleValue(samples, 'snapkeep_redis_up')).toBe(1);
  });

  it('reads garbage in the hash as zero rather than failing a scrape', () => {
    const stats = parseJobStats({ 'jobs:backup:completed': 'NaN', 'duration:restore:sum': 'x' });
    expect(stats.outcomes.backup.completed).toBe(0);
    expect(stats.histograms.restoreDuration.sum).toBe(0);
  });
});
