import type { SourceConfig } from '../../src/config/config.js';
import { backupSchedulerSpec, type SchedulerSpec } from './schedule.js';

/**
 * backupSchedulersOn are the backup schedules that live in one host's backup queue (undefined: the
 * shared queue): one per source routed there, whichever worker upserts it.
 */
export function backupSchedulersOn(sources: readonly SourceConfig[], host: string | undefined): SchedulerSpec[] {
  return sources.filter((s) => s.host === host).map((s) => backupSchedulerSpec(s.schedule, s));
}
