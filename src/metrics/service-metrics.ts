import type { Redis } from 'ioredis';
import { AggregatorRegistry, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queues } from '../queue/queues.js';
import { jobStatsKey, readJobStats, type JobStats } from './job-stats.js';
import { refusedJobsKey, refusedJobsRegistry } from './refused-jobs.js';
import { QUEUE_STATES, sharedMetricsJson, type QueueCounts } from './shared-metrics.js';
import { withTimeout } from '../with-timeout.js';

/** ServiceMetrics is one process's Prometheus exposition: its own process metrics plus the shared job metrics. */
export interface ServiceMetrics {
  /** This process's registry (default process metrics); never prom-client's global one. */
  readonly registry: Registry;
  readonly contentType: string;
  /** render reads Redis and returns the whole exposition text. */
  render(): Promise<string>;
}

// A scrape must answer even when Redis does not; Prometheus' own default timeout is 10 s.
const REDIS_TIMEOUT_MS = 2000;

/**
 * createServiceMetrics builds a process's metrics. A registry per instance (not prom-client's
 * global default) so that tests and one process can build several apps side by side.
 */
export function createServiceMetrics(deps: { queues: Queues; redis: Redis }): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const key = jobStatsKey(deps.queues);

  const readShared = async (): Promise<[JobStats | undefined, QueueCounts | undefined]> => {
    const stats = withTimeout(readJobStats(deps.redis, key), REDIS_TIMEOUT_MS).catch(() => undefined);
    const counts = withTimeout(Promise.all(deps.queues.all.map(async ({ name, queue }) =>
      [name, await queue.getJobCounts(...QUEUE_STATES)] as const)), REDIS_TIMEOUT_MS)
      .then((entries) => Object.fromEntries(entries) as QueueCounts)
      .catch(() => undefined);
    return Promise.all([stats, counts]);
  };

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      const [[stats, counts], refused] = await Promise.all([
        readShared(),
        withTimeout(refusedJobsRegistry(deps.redis, refusedJobsKey(deps.queues)), REDIS_TIMEOUT_MS).catch(() => undefined),
      ]);
      // Built fresh per scrape from what Redis holds now, then merged with this process's registry.
      const shared = AggregatorRegistry.aggregate<typeof registry.contentType>([sharedMetricsJson(stats, counts)]);
      return Registry.merge([registry, shared, ...(refused ? [refused] : [])]).metrics();
    },
  };
}
