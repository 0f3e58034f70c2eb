import Joi from 'joi';
import { isBackupId } from '../backups/backup-id.js';
import { SnapkeepError } from '../errors.js';
import type { BackupJobData, PruneJobData, QueueName, RestoreJobData } from './job-types.js';

/**
 * The shape of every job's data, checked again by the worker after the signature (defence in
 * depth: a signing bug or a leaked key must still not let a job carry what the API would refuse).
 * Unknown fields are refused; `at` is for dry runs only (a real prune as of another time is how
 * one prune deleted every backup); a restore's target is checked against the filesystem apart
 * (workers/check-restore-target.ts).
 */
const sealedPassphrase = Joi.string().min(1).max(64 * 1024);
const backupId = Joi.string().custom((value: string, helpers) => (isBackupId(value) ? value : helpers.error('any.invalid')));

const SCHEMAS: Record<QueueName, Joi.ObjectSchema> = {
  backup: Joi.object<BackupJobData>({
    trigger: Joi.string().valid('api', 'cli', 'schedule').required(),
    sealedPassphrase,
  }),
  restore: Joi.object<RestoreJobData>({
    backupId: backupId.required(),
    force: Joi.boolean(),
    sealedPassphrase,
    target: Joi.string().min(1).max(4096),
  }),
  prune: Joi.object<PruneJobData>({
    dryRun: Joi.boolean().required(),
    at: Joi.string().isoDate().when('dryRun', { is: true, otherwise: Joi.forbidden() }),
    force: Joi.boolean(),
  }),
};

/** validateJobData returns data if it has its queue's shape, else throws `invalid_job` naming every problem. */
export function validateJobData<D>(queue: QueueName, data: unknown): D {
  const { value, error } = SCHEMAS[queue].validate(data, { abortEarly: false, convert: false, allowUnknown: false });
  if (error) {
    throw new SnapkeepError('invalid_job', `invalid ${queue} job refused: ${error.details.map((d) => d.message).join('; ')}`, { retryable: false });
  }
  return value as D;
}
