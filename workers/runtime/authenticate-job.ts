import type { Job } from 'bullmq';
import type { Config } from '../../src/config/config.js';
import { SnapkeepError } from '../../src/errors.js';
import { JOB_VALIDITY_MS, slotTime, UnauthenticatedJobError, type JobSigner } from '../../src/queue/job-auth.js';
import type { JobLedger } from '../../src/queue/job-ledger.js';
import { validateJobData } from '../../src/queue/job-schemas.js';
import { JOB_NAMES, type RestoreJobData } from '../../src/queue/job-types.js';
import { parseQueueName } from '../../src/queue/queue-routes.js';
import { drillSchedulerIdFor, schedulerIdFor } from '../../src/queue/queues.js';
import { findSource, servesSource } from '../../src/config/source-config.js';
import { checkRestoreTarget } from '../restore/check-restore-target.js';

/** AuthenticatedJob is a job's trusted data, and how to record the attempt's end in the ledger. */
export interface AuthenticatedJob {
  data: unknown;
  finished(outcome: 'completed' | 'failed'): void;
}

/** AuthenticateJob turns a job read from Redis into data a job function may trust, or throws. */
export type AuthenticateJob = (job: Job) => Promise<AuthenticatedJob>;

/**
 * jobAuthenticator is the worker's gate, run before a job does anything: the signature (made by a
 * holder of the master key, for this queue, name and id, within a day), then the ledger (never a
 * job this host completed before: no replays), then the same shape the API enforces, then a restore
 * target against the filesystem. Everything it throws is non-retryable.
 */
export function jobAuthenticator(config: Pick<Config, 'restoreRoot' | 'verifySchedule' | 'sources' | 'fleetHost'>, signer: JobSigner, ledger: JobLedger): AuthenticateJob {
  // Copies of a schedule's template under made-up slot ids closer together than this are refused.
  const spacingMs = (scheduler: string): number => {
    const drill = config.sources.some((s) => drillSchedulerIdFor(s.name) === scheduler);
    const schedule = drill ? config.verifySchedule : config.sources.find((s) => schedulerIdFor(s.name) === scheduler)?.schedule;
    return schedule?.type === 'every' ? Math.floor(schedule.everyMs / 2) : 60_000;
  };
  return async (job) => {
    const route = parseQueueName(job.queueName);
    if (!route || job.name !== JOB_NAMES[route.type]) {
      throw new SnapkeepError('invalid_job', `invalid job refused: ${JSON.stringify(job.name)} is not a job of the ${job.queueName} queue`);
    }
    const queue = job.queueName;
    const id = String(job.id);
    const { data, auth } = signer.verify({ queue, name: job.name, id, data: job.data });
    const valid = validateJobData<{ target?: RestoreJobData['target']; source?: string }>(route.type, data);
    if (route.type !== 'notify') {
      // A source's jobs run only where its files are: the queue's host must be the source's, and ours.
      const source = findSource(config, valid.source);
      if (source.host !== route.host || !servesSource(config, source)) {
        throw new SnapkeepError('invalid_job', `invalid job refused: source ${source.name} is not served from queue ${queue} by this worker (${config.fleetHost})`);
      }
    }
    if (route.type === 'restore' && valid.target !== undefined) await checkRestoreTarget(valid.target, config.restoreRoot);
    const now = Date.now();
    const key = `${queue}|${id}|${auth.mac}`;
    const slot = auth.scheduler !== undefined ? { scheduler: auth.scheduler, at: slotTime(id)!, spacingMs: spacingMs(auth.scheduler) } : undefined;
    ledger.forget(now - 2 * JOB_VALIDITY_MS);
    const verdict = ledger.begin(key, now, slot);
    if (verdict === 'replay') throw new UnauthenticatedJobError('this signed job already ran to completion on this host (a replay)');
    if (verdict === 'duplicate-slot') throw new UnauthenticatedJobError('another slot of this schedule ran moments apart (a copied schedule template)');
    return { data: valid, finished: (outcome) => ledger.finish(key, outcome, Date.now()) };
  };
}
