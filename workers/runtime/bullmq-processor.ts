import { UnrecoverableError, type Job, type Processor } from 'bullmq';
import { SnapkeepError, coerceError, isRetryable } from '../../src/errors.js';
import type { JobProgress } from '../../src/queue/job-types.js';
import type { AuthenticateJob, AuthenticatedJob } from './authenticate-job.js';
import type { JobContext } from './job-context.js';

/** JobGate is what every job passes before its function runs, and who hears of a refusal. */
export interface JobGate {
  authenticate: AuthenticateJob;
  /** Called once per refused job (metrics). */
  onRefused?: (queue: string, code: string) => void;
  /**
   * Run after the checks, before the job function (a backup stops being joinable here, or waits for
   * its source's running backup: it may move the job to delayed and throw BullMQ's DelayedError).
   */
  beforeRun?: (job: Job, data: unknown, token: string | undefined) => Promise<void>;
  /** Run after the job function, whatever its outcome (a backup lets go of its source). */
  afterRun?: (job: Job, data: unknown) => Promise<void>;
}

/** JobBase is a job's context without what each attempt adds: per source, its scoped config and store. */
export type JobBase = Omit<JobContext, 'reportProgress' | 'signal'>;

/** JobFunction is a plain job: data in, result out, no BullMQ types (graphile-worker's Task). */
export type JobFunction<D, R> = (data: D, ctx: JobContext) => Promise<R>;

// Progress goes to Redis; a few updates a second are enough for a poller and cheap for Redis.
const PROGRESS_INTERVAL_MS = 250;

/**
 * toProcessor adapts a job function to BullMQ: a throttled progress reporter, the worker's abort
 * signal, a logger tagged with the job id, and errors that no retry can fix turned into
 * UnrecoverableError so the job fails at once instead of burning its attempts.
 */
export function toProcessor<D, R>(run: JobFunction<D, R>, baseFor: (source: string | undefined) => JobBase, gate: JobGate): Processor<D, R> {
  return async (job: Job<D, R>, token?: string, signal?: AbortSignal) => {
    const base = baseFor(undefined);
    let authenticated: AuthenticatedJob;
    try {
      authenticated = await gate.authenticate(job as Job);
    } catch (thrown) {
      // Someone wrote this job to Redis without the master key, or with data the API would refuse:
      // nothing of it runs, it is not retried, and it is logged at warn with its id (never its data).
      const err = coerceError(thrown);
      const code = err instanceof SnapkeepError ? err.code : 'invalid_job';
      base.logger.warn('job refused', { jobId: job.id, queue: job.queueName, name: job.name, code, reason: err.message });
      gate.onRefused?.(job.queueName, code);
      throw new UnrecoverableError(`${code}: ${err.message}`);
    }
    const data = authenticated.data as D;
    // The job's source was checked by the gate (declared, served here): its scoped config and store.
    const ctx = baseFor((data as { source?: string }).source);
    await gate.beforeRun?.(job as Job, data, token);
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
    const logger = ctx.logger.child({ jobId: job.id, queue: job.queueName, source: ctx.config.sourceName, attempt: job.attemptsMade + 1 });
    try {
      const result = await run(data, { ...ctx, logger, reportProgress, ...(signal ? { signal } : {}) });
      authenticated.finished('completed');
      // Every result names its source (issue 14), except an apply's, whose `source` is the restore it put in place.
      return (isRecord(result) && !('source' in result) ? { ...result, source: ctx.config.sourceName } : result) as R;
    } catch (thrown) {
      const err = coerceError(thrown);
      logger.error('job attempt failed', { error: err.message, code: err instanceof SnapkeepError ? err.code : undefined, retryable: isRetryable(err) });
      // A final failure ends the job as surely as success: the same signed job never runs again.
      authenticated.finished(isRetryable(err) ? 'failed' : 'completed');
      if (!isRetryable(err)) throw new UnrecoverableError(err.message);
      throw err;
    } finally {
      await gate.afterRun?.(job as Job, data);
    }
  };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
