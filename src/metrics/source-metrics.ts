import type { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import { SourceStatus } from '../fleet/source-status.js';
import { livePresences } from '../fleet/worker-presence.js';

/**
 * sourceRegistry is the per-source metrics of one scrape (issue 14), from the workers' signed records
 * and heartbeats in Redis: when each source last backed up and passed a drill, and whether a worker
 * serving it is online. An alert on `time() - snapkeep_source_last_backup_timestamp_seconds` catches
 * one source of a hundred that stopped.
 */
export async function sourceRegistry(deps: {
  redis: Redis; queuePrefix: string; masterKeys: ReadonlyArray<Buffer | undefined>; sources: readonly string[];
}): Promise<Registry> {
  const registry = new Registry();
  const labelNames = ['source'] as const;
  const lastBackup = new Gauge({ name: 'snapkeep_source_last_backup_timestamp_seconds', help: 'When each source\'s last backup was stored (Unix time; 0: none recorded).', labelNames, registers: [registry] });
  const lastVerified = new Gauge({ name: 'snapkeep_source_last_verified_timestamp_seconds', help: 'When a restore drill of each source last passed (Unix time; 0: none recorded).', labelNames, registers: [registry] });
  const online = new Gauge({ name: 'snapkeep_source_worker_online', help: 'Whether a live worker announces it serves the source (1) or none does (0): its jobs wait.', labelNames, registers: [registry] });
  const keys = deps.masterKeys.filter((k): k is Buffer => k !== undefined);
  const [records, workers] = await Promise.all([
    new SourceStatus(deps.redis, deps.queuePrefix, deps.masterKeys).read(),
    livePresences(deps.redis, { queuePrefix: deps.queuePrefix, masterKeys: keys }),
  ]);
  const served = new Set(workers.flatMap((w) => w.sources));
  const seconds = (iso: string | undefined): number => (iso ? Date.parse(iso) / 1000 : 0);
  for (const source of deps.sources) {
    lastBackup.set({ source }, seconds(records.get(source)?.backup));
    lastVerified.set({ source }, seconds(records.get(source)?.verified));
    online.set({ source }, served.has(source) ? 1 : 0);
  }
  return registry;
}
