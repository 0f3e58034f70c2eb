import { UnrecoverableError, type Job, type Processor } from 'bullmq';
import { SnapkeepError, coerceError, isRetryable } from '../src/errors.js';
import type { JobProgress } from '../src/queue/job-types.js';
import type { JobContext } from './job-context.js';

/** JobFunction is a plain job: data in, result out, no BullMQ types (graphile-worker's Task). */
export type JobFunction<D, R> = (data: D, ctx: JobContext) => Promise<R>;

// Progress goes to Redis; a few updates a second are enough for a poller and cheap for Redis.
const PROGRESS_INTERVAL_MS = 250;

/**
 * toProcessor adapts a job function to BullMQ: a throttled progress reporter, the worker's abort
 * signal, a logger tagged with the job id, and errors that no retry can fix turned into
 * UnrecoverableError so the job fails at once instead of burning its attempts.
 */
export function toProcessor<D, R>(run: JobFunction<D, R>, base: Omit<JobContext, 'reportProgress' | 'signal'>): Processor<D, R> {
  return async (job: Job<D, R>, _token?: string, signal?: AbortSignal) => {
    let lastSent = 0;
    let lastPhase = '';
    const reportProgress = (progress: JobProgress): void => {
      const now = Date.now();
      const phaseChanged = progress.phase !== lastPhase;
      if (!phaseChanged && progress.percent < 100 && now - lastSent < PROGRESS_INTERVAL_MS) return;
      lastSent = now;
      lastPhase = progress.phase;
      job.updateProgress(progress).catch(() => undefined);
    };
    const logger = base.logger.child({ jobId: job.id, queue: job.queueName, attempt: job.attemptsMade + 1 });
    try {
      return await run(job.data, { ...base, logger, reportProgress, ...(signal ? { signal } : {}) });
    } catch (thrown) {
      const err = coerceError(thrown);
      logger.error('job attempt failed', { error: err.message, code: err instanceof SnapkeepError ? err.code : undefined, retryable: isRetryable(err) });
      if (!isRetryable(err)) throw new UnrecoverableError(err.message);
      throw err;
    }
  };
}
