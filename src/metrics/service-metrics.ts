import type { Redis } from 'ioredis';
import { AggregatorRegistry, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queues } from '../queue/queues.js';
import type { Logger } from '../logging/create-logger.js';
import { jobStatsKey, readJobStats, type JobStats } from './job-stats.js';
import { lastSuccessSeal, warnForged } from './last-success.js';
import { refusedJobsKey, refusedJobsRegistry } from './refused-jobs.js';
import { verificationRegistry } from './verification-metrics.js';
import { sourceRegistry } from './source-metrics.js';
import { VerificationRecords, verificationsKey } from '../verification/verification-records.js';
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
export function createServiceMetrics(deps: {
  queues: Queues; redis: Redis; masterKey?: Buffer | undefined; logger?: Pick<Logger, 'warn'>;
  /** MASTER_KEY_PREVIOUS: restore drills' records signed before a key rotation still count. */
  previousMasterKeys?: readonly Buffer[];
  /** The declared sources' names, labelled in the per-source metrics (issue 14); none: no per-source metrics. */
  sources?: () => readonly string[];
}): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const key = jobStatsKey(deps.queues);
  // Only what a master-key holder sealed counts as the last success (last-success.ts).
  const seal = lastSuccessSeal(key, deps.masterKey);
  let warnedAbout: string | undefined;
  // Once per forged value, not once per scrape.
  const noteForged = (stats: JobStats | undefined): void => {
    if (stats?.forgedLastSuccess === undefined || stats.forgedLastSuccess === warnedAbout) return;
    warnedAbout = stats.forgedLastSuccess;
    warnForged(deps.logger, 'ignored');
  };

  const verifications = new VerificationRecords(deps.redis, verificationsKey(deps.queues), [deps.masterKey, ...(deps.previousMasterKeys ?? [])]);

  const readShared = async (): Promise<[JobStats | undefined, QueueCounts | undefined]> => {
    const stats = withTimeout(readJobStats(deps.redis, key, seal), REDIS_TIMEOUT_MS).then((s) => { noteForged(s); return s; }, () => undefined);
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
      const [[stats, counts], refused, drills, sources] = await Promise.all([
        readShared(),
        withTimeout(refusedJobsRegistry(deps.redis, refusedJobsKey(deps.queues)), REDIS_TIMEOUT_MS).catch(() => undefined),
        withTimeout(verificationRegistry(verifications), REDIS_TIMEOUT_MS).catch(() => undefined),
        deps.sources
          ? withTimeout(sourceRegistry({
              redis: deps.redis, queuePrefix: deps.queues.backup.opts.prefix ?? 'bull', masterKeys: [deps.masterKey, ...(deps.previousMasterKeys ?? [])], sources: deps.sources(),
            }), REDIS_TIMEOUT_MS).catch(() => undefined)
          : undefined,
      ]);
      // Built fresh per scrape from what Redis holds now, then merged with this process's registry.
      const shared = AggregatorRegistry.aggregate<typeof registry.contentType>([sharedMetricsJson(stats, counts)]);
      return Registry.merge([registry, shared, ...(refused ? [refused] : []), ...(drills ? [drills] : []), ...(sources ? [sources] : [])]).metrics();
    },
  };
}
