import type { Job } from 'bullmq';
import type { Config } from '../src/config/config.js';
import type { JobSigner } from '../src/queue/job-auth.js';
import { validateJobData } from '../src/queue/job-schemas.js';
import { JOB_NAMES, QUEUE_NAMES, type QueueName, type RestoreJobData } from '../src/queue/job-types.js';
import { SnapkeepError } from '../src/errors.js';
import { checkRestoreTarget } from './check-restore-target.js';

/** AuthenticateJob turns a job read from Redis into data a job function may trust, or throws. */
export type AuthenticateJob = (job: Job) => Promise<unknown>;

/**
 * jobAuthenticator is the worker's gate, run before a job does anything: the signature (made by a
 * holder of the master key, for this queue, name and id), then the same shape the API enforces,
 * then a restore target against the filesystem. Everything it throws is non-retryable.
 */
export function jobAuthenticator(config: Pick<Config, 'restoreRoot'>, signer: JobSigner): AuthenticateJob {
  return async (job) => {
    const queue = job.queueName as QueueName;
    if (!QUEUE_NAMES.includes(queue) || job.name !== JOB_NAMES[queue]) {
      throw new SnapkeepError('invalid_job', `invalid job refused: ${JSON.stringify(job.name)} is not a job of the ${queue} queue`);
    }
    const data = signer.verify({ queue, name: job.name, id: String(job.id), data: job.data, retry: job.attemptsMade > 0 });
    const valid = validateJobData<{ target?: RestoreJobData['target'] }>(queue, data);
    if (queue === 'restore' && valid.target !== undefined) await checkRestoreTarget(valid.target, config.restoreRoot);
    return valid;
  };
}
