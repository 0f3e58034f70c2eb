import Joi from 'joi';
import { isBackupId } from '../backups/backup-id.js';
import { SOURCE_NAME } from '../config/sources-file.js';
import { SnapkeepError } from '../errors.js';
import { NOTIFICATION_EVENTS } from '../notify/notification-event.js';
import { HEALTHCHECKS_TARGET } from '../notify/notify-targets.js';
import type { ApplyJobData, BackupJobData, NotifyJobData, PruneJobData, QueueName, RestoreJobData, VerifyJobData } from './job-types.js';

/**
 * The shape of every job's data, checked again by the worker after the signature (defence in
 * depth: a signing bug or a leaked key must still not let a job carry what the API would refuse).
 * Unknown fields are refused; `at` is for dry runs only (a real prune as of another time is how
 * one prune deleted every backup); a restore's target is checked against the filesystem apart
 * (workers/restore/check-restore-target.ts).
 */
const sealedPassphrase = Joi.string().min(1).max(64 * 1024);
const source = Joi.string().pattern(SOURCE_NAME);
const backupId = Joi.string().custom((value: string, helpers) => (isBackupId(value) ? value : helpers.error('any.invalid')));

const SCHEMAS: Record<QueueName, Joi.ObjectSchema> = {
  backup: Joi.object<BackupJobData>({
    source,
    trigger: Joi.string().valid('api', 'cli', 'schedule').required(),
    sealedPassphrase,
  }),
  restore: Joi.object<RestoreJobData>({
    source,
    backupId: backupId.required(),
    force: Joi.boolean(),
    sealedPassphrase,
    target: Joi.string().min(1).max(4096),
  }),
  prune: Joi.object<PruneJobData>({
    source,
    dryRun: Joi.boolean().required(),
    at: Joi.string().isoDate().when('dryRun', { is: true, otherwise: Joi.forbidden() }),
    force: Joi.boolean(),
  }),
  // No command, ever: an apply runs only the stop and start commands of the worker's own settings.
  apply: Joi.object<ApplyJobData>({
    source,
    backupId: backupId.required(),
    sealedPassphrase,
  }),
  verify: Joi.object<VerifyJobData>({
    source,
    trigger: Joi.string().valid('api', 'cli', 'schedule').required(),
    // The schedule's drill picks its own backups; a drill asked for by hand names one.
    backupId: backupId.when('trigger', { is: 'schedule', then: Joi.forbidden(), otherwise: Joi.required() }),
    sealedPassphrase,
  }),
  notify: Joi.alternatives().try(
    Joi.object({
      target: Joi.string().pattern(/^webhook-[0-9a-f]{12}$/).required(),
      notification: Joi.object({
        event: Joi.string().valid(...NOTIFICATION_EVENTS).required(),
        at: Joi.string().isoDate().required(),
        host: Joi.string().max(255).required(),
        backupId,
        jobId: Joi.string().max(300),
        message: Joi.string().allow('').max(2000).required(),
        details: Joi.object().unknown(true).required(),
      }).required(),
    }),
    Joi.object({
      target: Joi.string().valid(HEALTHCHECKS_TARGET).required(),
      ping: Joi.string().valid('start', 'success', 'fail').required(),
      message: Joi.string().allow('').max(2000).required(),
    }),
  ) as unknown as Joi.ObjectSchema<NotifyJobData>,
};

/** validateJobData returns data if it has its queue's shape, else throws `invalid_job` naming every problem. */
export function validateJobData<D>(queue: QueueName, data: unknown): D {
  const { value, error } = SCHEMAS[queue].validate(data, { abortEarly: false, convert: false, allowUnknown: false });
  if (error) {
    throw new SnapkeepError('invalid_job', `invalid ${queue} job refused: ${error.details.map((d) => d.message).join('; ')}`, { retryable: false });
  }
  return value as D;
}
