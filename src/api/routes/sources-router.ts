import { Router } from 'express';
import type { Redis } from 'ioredis';
import type { ScheduleConfig, SourceConfig } from '../../config/config.js';
import { SourceStatus } from '../../fleet/source-status.js';
import { livePresences } from '../../fleet/worker-presence.js';
import type { Logger } from '../../logging/create-logger.js';
import type { Queues } from '../../queue/queues.js';
import type { SealPassphrase } from '../../age/passphrase-sealer.js';
import type { VerificationRecords } from '../../verification/verification-records.js';
import type { SourceCatalog } from '../source-catalog.js';
import { backupsRouter, pruneHandler } from './backups-router.js';

/** SourceSummary is one source as `GET /api/sources` shows it. */
export interface SourceSummary {
  name: string;
  /** The worker (SNAPKEEP_HOST) that has its files; null: any worker may serve it. */
  host: string | null;
  kind: 'database' | 'archive';
  schedule: { hours: number } | { cron: string; tz: string } | { off: true };
  /** When its last backup was stored, from the workers' signed records in Redis (null: none recorded). */
  lastBackupAt: string | null;
  /** When a restore drill of it last passed (null: none recorded). */
  lastVerifiedAt: string | null;
  /** Whether a live worker announces it serves this source (a pinned source's jobs wait until one does). */
  workerOnline: boolean;
}

const scheduleOf = (schedule: ScheduleConfig): SourceSummary['schedule'] => (schedule.type === 'off' ? { off: true }
  : schedule.type === 'cron' ? { cron: schedule.pattern, tz: schedule.tz } : { hours: schedule.everyMs / 3_600_000 });

const kindOf = (source: SourceConfig): SourceSummary['kind'] => (source.includePaths.length > 0 || source.streams.length > 0 || source.ageRecipients.length > 0 || source.dbPath === undefined ? 'archive' : 'database');

/**
 * sourcesRouter serves `/api/sources`: the list with each source's state, and each source's backups,
 * restores and prunes (`/api/sources/:name/backups…`, `/api/sources/:name/prune`), as `/api/backups…`
 * serves the primary source's.
 */
export function sourcesRouter(deps: {
  catalog: SourceCatalog; queues: Queues; redis: Redis; logger: Logger; queuePrefix: string;
  masterKeys: ReadonlyArray<Buffer | undefined>; verifications?: VerificationRecords; sealPassphrase?: SealPassphrase;
}): Router {
  const router = Router();
  const status = new SourceStatus(deps.redis, deps.queuePrefix, deps.masterKeys);
  const keys = deps.masterKeys.filter((k): k is Buffer => k !== undefined);

  router.get('/', async (_req, res) => {
    const [records, workers] = await Promise.all([status.read(), livePresences(deps.redis, { queuePrefix: deps.queuePrefix, masterKeys: keys })]);
    const online = new Set(workers.flatMap((w) => w.sources));
    const sources: SourceSummary[] = deps.catalog.sources().map((source) => ({
      name: source.name,
      host: source.host ?? null,
      kind: kindOf(source),
      schedule: scheduleOf(source.schedule),
      lastBackupAt: records.get(source.name)?.backup ?? null,
      lastVerifiedAt: records.get(source.name)?.verified ?? null,
      workerOnline: online.has(source.name),
    }));
    res.json({ sources });
  });
  router.use('/:name/backups', backupsRouter(deps));
  router.post('/:name/prune', pruneHandler(deps));
  return router;
}
