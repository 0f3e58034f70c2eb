import { getNextMillis } from 'bullmq';
import { listStoredBackups, newestBackup } from '../../src/backups/list-backups.js';
import type { Config, ScheduleConfig } from '../../src/config/config.js';
import type { Logger } from '../../src/logging/create-logger.js';
import type { Notifier } from '../../src/notify/notifier.js';
import type { BackupStore } from '../../src/storage/backup-store.js';
import { DEFAULT_SOURCE } from '../../src/config/sources-file.js';

// A cron pattern's period is the longest gap among its next fires (a weekday-only pattern: the weekend).
const CRON_FIRES_SAMPLED = 8;

/** schedulePeriodMs is the time between scheduled backups, or undefined when the schedule is off. */
export function schedulePeriodMs(schedule: ScheduleConfig, now: number = Date.now()): number | undefined {
  if (schedule.type === 'off') return undefined;
  if (schedule.type === 'every') return schedule.everyMs;
  let longest = 0;
  let previous = getNextMillis(now, { pattern: schedule.pattern, tz: schedule.tz });
  for (let i = 0; i < CRON_FIRES_SAMPLED && previous !== undefined; i++) {
    const next = getNextMillis(previous, { pattern: schedule.pattern, tz: schedule.tz });
    if (next === undefined) break;
    longest = Math.max(longest, next - previous);
    previous = next;
  }
  return longest > 0 ? longest : undefined;
}

/** MissedScheduleCheck is what the check needs: the store to look in and where to say it. */
export interface MissedScheduleCheck {
  config: Config;
  store: BackupStore;
  logger: Logger;
  notifier: Notifier;
  /** When this process started: with no backup at all, the schedule is missed twice a period after it. */
  startedAt: number;
}

/**
 * checkMissedSchedule sends `schedule.missed` when the newest backup in the store (made by the
 * schedule, the API or the CLI: any good backup counts) is older than twice the schedule's period.
 * Once per gap, across every process: the notification's key is the newest backup's id.
 */
export async function checkMissedSchedule(check: MissedScheduleCheck, now: number = Date.now()): Promise<boolean> {
  const period = schedulePeriodMs(check.config.schedule, now);
  if (period === undefined) return false;
  const newest = newestBackup(await listStoredBackups(check.store));
  const since = newest ? Date.parse(newest.createdAt) : check.startedAt;
  if (now - since <= 2 * period) return false;
  const hours = Math.round(((now - since) / 3_600_000) * 10) / 10;
  const source = check.config.sourceName;
  const of = source === '' || source === DEFAULT_SOURCE ? '' : ` of source ${source}`;
  await check.notifier.notify({
    event: 'schedule.missed',
    ...(newest ? { backupId: newest.id } : {}),
    message: newest
      ? `no backup${of} for ${hours} h: the newest is ${newest.id}, and backups are scheduled every ${Math.round(period / 60_000)} min`
      : `no backup${of} at all ${hours} h after start, and backups are scheduled every ${Math.round(period / 60_000)} min`,
    details: { source, newestBackupAt: newest?.createdAt ?? null, periodSeconds: Math.round(period / 1000) },
  }, { dedupeKey: `missed-since-${newest?.id ?? `start-${source}-${check.startedAt}`}` });
  check.logger.warn('scheduled backups missed', { source, newest: newest?.id, hours });
  return true;
}
