import type { Queue } from 'bullmq';
import type { ScheduleConfig } from '../src/config/config.js';
import type { Logger } from '../src/logging/create-logger.js';
import type { BackupJobData, BackupResult, PruneJobData } from '../src/queue/job-types.js';
import { SCHEDULER_ID } from '../src/queue/queues.js';

/**
 * upsertSchedule makes the `scheduled-backup` job scheduler match the settings. Every serve and
 * worker process calls it at start, before its workers take jobs, so a process started with the
 * schedule off never runs a slot that fell due while it was down. The scheduler lives in Redis under
 * one id: however many processes upsert it there is one schedule, and a restart neither loses nor
 * doubles it (an `every` upsert keeps the pending slot's time instead of firing again).
 */
export async function upsertSchedule(queue: Queue<BackupJobData>, schedule: ScheduleConfig, logger: Logger): Promise<void> {
  if (schedule.type === 'off') {
    const removed = await queue.removeJobScheduler(SCHEDULER_ID);
    logger.info('backup schedule off', { removed });
    return;
  }
  const repeat = schedule.type === 'every'
    ? { every: schedule.everyMs }
    : { pattern: schedule.pattern, tz: schedule.tz };
  await queue.upsertJobScheduler(SCHEDULER_ID, repeat, { name: 'backup', data: { trigger: 'schedule' } });
  logger.info('backup schedule set', schedule.type === 'every' ? { everyMs: schedule.everyMs } : { cron: schedule.pattern, tz: schedule.tz });
}

/** pruneJobIdAfter is the id of the prune that follows a scheduled backup: one per backup, whoever enqueues it. */
export const pruneJobIdAfter = (backupId: string): string => `prune-after-${backupId}`;

/**
 * enqueuePruneAfterBackup adds the sweep that follows a successful scheduled backup. Its job id is
 * derived from the backup id, so enqueuing twice yields one prune. A failure to enqueue is logged,
 * not thrown: the backup is already stored, and failing its job would retry it into a second backup;
 * the next scheduled backup's prune catches up.
 */
export async function enqueuePruneAfterBackup(queue: Queue<PruneJobData>, backup: BackupResult, logger: Logger): Promise<string | undefined> {
  const jobId = pruneJobIdAfter(backup.backupId);
  try {
    await queue.add('prune', { dryRun: false }, { jobId });
    logger.info('prune enqueued after scheduled backup', { pruneJobId: jobId });
    return jobId;
  } catch (error) {
    logger.error('could not enqueue the prune after a scheduled backup; the next one will catch up', {
      pruneJobId: jobId, error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
