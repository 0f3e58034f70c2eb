import type { Queue } from 'bullmq';
import type { ScheduleConfig } from '../src/config/config.js';
import type { Logger } from '../src/logging/create-logger.js';
import type { BackupJobData } from '../src/queue/job-types.js';
import { SCHEDULER_ID } from '../src/queue/queues.js';

/**
 * upsertSchedule makes the `scheduled-backup` job scheduler match the settings. Every serve and
 * worker process calls it at start: the scheduler lives in Redis under one id, so however many
 * processes upsert it there is one schedule, and a restart neither loses nor doubles it.
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
