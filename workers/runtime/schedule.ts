import type { Queue } from 'bullmq';
import type { ScheduleConfig } from '../../src/config/config.js';
import type { Logger } from '../../src/logging/create-logger.js';
import type { JobSigner } from '../../src/queue/job-auth.js';
import type { BackupJobData, BackupResult, PruneJobData, QueueName, VerifyJobData } from '../../src/queue/job-types.js';
import { drillSchedulerIdFor, schedulerIdFor } from '../../src/queue/queues.js';
import { routedQueueName } from '../../src/queue/queue-routes.js';
import { DEFAULT_SOURCE } from '../../src/config/sources-file.js';

// A template's signature is made once for what it says, not for when: upserting it again writes the
// same bytes, so the pending slot is kept. Templates are not subject to the jobs' validity period.
const TEMPLATE_SIGNED_AT = new Date(0);

/**
 * SchedulerSpec is one job scheduler snapkeep keeps in Redis, signed and guarded: the scheduled
 * backup (BACKUP_SCHEDULE_*) and the scheduled restore drill (BACKUP_VERIFY_SCHEDULE_HOURS).
 */
export interface SchedulerSpec {
  /** The BullMQ queue it fires into (`backup`, `backup@app-1`). */
  queue: string;
  /** The job name of what it fires (`backup`, `verify`). */
  name: QueueName;
  /** The scheduler's id, also the signed template's identity. */
  id: string;
  /** What it schedules, for the log: `backup`, `restore drill`. */
  what: string;
  schedule: ScheduleConfig;
  data: object;
  /**
   * Whether a new scheduler's first job waits one period (a drill right after the first start
   * would find nothing to verify). An existing scheduler keeps its pending slot either way.
   */
  firstAfterPeriod?: boolean;
}

const templateId = (spec: SchedulerSpec) => ({ queue: spec.queue, name: spec.name, id: spec.id });

/**
 * backupSchedulerSpec is a source's scheduled backup, in its source's queue. The default source's
 * template names no source, as before sources existed, so an upgrade keeps its signed template.
 */
export const backupSchedulerSpec = (schedule: ScheduleConfig, source: { name: string; host: string | undefined } = { name: DEFAULT_SOURCE, host: undefined }): SchedulerSpec => ({
  queue: routedQueueName('backup', source.host), name: 'backup', id: schedulerIdFor(source.name), what: `backup of ${source.name}`, schedule,
  data: (source.name === DEFAULT_SOURCE ? { trigger: 'schedule' } : { trigger: 'schedule', source: source.name }) satisfies BackupJobData,
});

/** drillSchedulerSpec is the scheduled restore drill: BACKUP_VERIFY_SCHEDULE_HOURS, first run one period after it is set up. */
export const drillSchedulerSpec = (schedule: ScheduleConfig, source: { name: string; host: string | undefined } = { name: DEFAULT_SOURCE, host: undefined }): SchedulerSpec => ({
  queue: routedQueueName('verify', source.host), name: 'verify', id: drillSchedulerIdFor(source.name), what: `restore drill of ${source.name}`, schedule,
  data: (source.name === DEFAULT_SOURCE ? { trigger: 'schedule' } : { trigger: 'schedule', source: source.name }) satisfies VerifyJobData, firstAfterPeriod: true,
});

/** scheduleTemplate is the signed data of every scheduled backup job. */
export function scheduleTemplate(signer: JobSigner): BackupJobData {
  return signedTemplate(backupSchedulerSpec({ type: 'off' }), signer) as BackupJobData;
}

const signedTemplate = (spec: SchedulerSpec, signer: JobSigner): object => signer.signTemplate(templateId(spec), spec.data, TEMPLATE_SIGNED_AT);

/**
 * upsertSchedule makes the `scheduled-backup` job scheduler match the settings. Every serve and
 * worker process calls it at start, before its workers take jobs, so a process started with the
 * schedule off never runs a slot that fell due while it was down. The scheduler lives in Redis under
 * one id: however many processes upsert it there is one schedule, and a restart neither loses nor
 * doubles it (an `every` upsert keeps the pending slot's time instead of firing again).
 */
export async function upsertSchedule(queue: Queue<BackupJobData>, schedule: ScheduleConfig, logger: Logger, signer: JobSigner): Promise<void> {
  await upsertScheduler(queue as Queue, backupSchedulerSpec(schedule), logger, signer);
}

/** upsertScheduler makes one job scheduler match its spec (upsertSchedule's generalisation). */
export async function upsertScheduler(queue: Queue, spec: SchedulerSpec, logger: Logger, signer: JobSigner): Promise<void> {
  const { schedule } = spec;
  if (schedule.type === 'off') {
    const removed = await queue.removeJobScheduler(spec.id);
    logger.info(`${spec.what} schedule off`, { removed });
    return;
  }
  const repeat = schedule.type === 'every'
    ? { every: schedule.everyMs }
    : { pattern: schedule.pattern, tz: schedule.tz };
  // A start date only for a new scheduler: an upsert without one keeps an existing scheduler's slot.
  const delayFirst = spec.firstAfterPeriod && schedule.type === 'every' && !(await queue.getJobScheduler(spec.id));
  await queue.upsertJobScheduler(spec.id, delayFirst ? { ...repeat, startDate: Date.now() + schedule.everyMs } : repeat, { name: spec.name, data: signedTemplate(spec, signer) });
  logger.info(`${spec.what} schedule set`, schedule.type === 'every' ? { everyMs: schedule.everyMs } : { cron: schedule.pattern, tz: schedule.tz });
}

/** pruneJobIdAfter is the id of the prune that follows a scheduled backup: one per backup, whoever enqueues it. */
export const pruneJobIdAfter = (backupId: string): string => `prune-after-${backupId}`;

/**
 * enqueuePruneAfterBackup adds the sweep that follows a successful scheduled backup. Its job id is
 * derived from the backup id, so enqueuing twice yields one prune. A failure to enqueue is logged,
 * not thrown: the backup is already stored, and failing its job would retry it into a second backup;
 * the next scheduled backup's prune catches up.
 */
export async function enqueuePruneAfterBackup(
  target: { queue: Queue; name: string }, source: string, backup: BackupResult, logger: Logger, signer: JobSigner,
): Promise<string | undefined> {
  const jobId = pruneJobIdAfter(backup.backupId);
  try {
    await target.queue.add('prune', signer.sign({ queue: target.name, name: 'prune', id: jobId }, { dryRun: false, source } satisfies PruneJobData), { jobId });
    logger.info('prune enqueued after scheduled backup', { pruneJobId: jobId });
    return jobId;
  } catch (error) {
    logger.error('could not enqueue the prune after a scheduled backup; the next one will catch up', {
      pruneJobId: jobId, error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/**
 * guardSchedule puts the schedule back when someone with Redis access changed it: a scheduler
 * other than ours is removed; ours is replaced when its template's signature fails, its timing
 * differs from the settings, or its pending slot's data was rewritten (a job that would fail the
 * signature check and so skip a night). Every worker runs it every GUARD_INTERVAL_MS. Returns
 * what it repaired, for the log and tests.
 */
export async function guardSchedule(queue: Queue<BackupJobData>, schedule: ScheduleConfig, logger: Logger, signer: JobSigner): Promise<string[]> {
  return guardScheduler(queue as Queue, backupSchedulerSpec(schedule), logger, signer);
}

/**
 * guardScheduler is guardSchedule for any SchedulerSpec: on its queue, only our scheduler may
 * exist, with our timing, our signed template and a pending slot carrying that template.
 */
export async function guardScheduler(queue: Queue, spec: SchedulerSpec, logger: Logger, signer: JobSigner): Promise<string[]> {
  return guardSchedulers(queue, [spec], logger, signer);
}

/**
 * guardSchedulers is guardScheduler for a queue that holds several (each source's backup schedule):
 * a scheduler none of the specs names is removed, and each spec's is checked as guardScheduler does.
 * Every process must read the same SNAPKEEP_CONFIG: one that does not know a source removes its schedule.
 */
export async function guardSchedulers(queue: Queue, specs: readonly SchedulerSpec[], logger: Logger, signer: JobSigner): Promise<string[]> {
  const repaired: string[] = [];
  const ids = new Set(specs.map((spec) => spec.id));
  for (const scheduler of await queue.getJobSchedulers(0, -1)) {
    if (ids.has(scheduler.key)) continue;
    await queue.removeJobScheduler(scheduler.key);
    repaired.push(`removed foreign scheduler ${scheduler.key}`);
    logger.warn('schedule repaired: it was changed in Redis by something other than snapkeep', { what: repaired.at(-1), queue: queue.name });
  }
  for (const spec of specs) repaired.push(...(await guardOne(queue, spec, logger, signer)));
  return repaired;
}

async function guardOne(queue: Queue, spec: SchedulerSpec, logger: Logger, signer: JobSigner): Promise<string[]> {
  const { schedule } = spec;
  const repaired: string[] = [];
  const ours = await queue.getJobScheduler(spec.id);
  if (schedule.type === 'off') {
    if (ours) {
      await queue.removeJobScheduler(spec.id);
      repaired.push('removed a schedule the settings turn off');
    }
  } else if (!ours) {
    await upsertScheduler(queue, spec, logger, signer);
    repaired.push('restored the missing schedule');
  } else {
    const timing = schedule.type === 'every'
      ? ours.every === schedule.everyMs && ours.pattern == null
      : ours.pattern === schedule.pattern && (ours.tz ?? 'UTC') === schedule.tz && ours.every == null;
    const slot = ours.next !== undefined ? await queue.getJob(`repeat:${spec.id}:${ours.next}`) : undefined;
    const slotForged = slot !== undefined && !signer.verifyTemplate(templateId(spec), slot.data);
    if (ours.name !== spec.name || !timing || !signer.verifyTemplate(templateId(spec), ours.template?.data) || slotForged) {
      // Removing also removes the pending slot, whose data may be the forged one.
      await queue.removeJobScheduler(spec.id);
      if (slot && slotForged) await slot.remove().catch(() => undefined);
      await upsertScheduler(queue, spec, logger, signer);
      repaired.push('replaced a rewritten schedule');
    }
  }
  for (const what of repaired) logger.warn('schedule repaired: it was changed in Redis by something other than snapkeep', { what, scheduler: spec.id });
  return repaired;
}

/** GUARD_INTERVAL_MS is how often workers check the schedule: a rewrite is undone within a minute. */
export const GUARD_INTERVAL_MS = 30_000;
