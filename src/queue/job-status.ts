import type { Job } from 'bullmq';
import { DEFAULT_SOURCE, SOURCE_NAME } from '../config/sources-file.js';
import type { Queues } from './queues.js';

/** JobStatus is the public view of a job, as `GET /api/jobs/:id` returns it. */
export interface JobStatus {
  id: string;
  /** The BullMQ queue: the job type, with `@host` for a source pinned to one worker (`backup@app-1`). */
  queue: string;
  /** The source the job is for (`default` when its data names none). */
  source: string;
  name: string;
  state: string;
  progress: unknown;
  attemptsMade: number;
  maxAttempts: number;
  result: unknown;
  failedReason: string | null;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

const iso = (ms: number | undefined): string | null => (ms ? new Date(ms).toISOString() : null);

/** candidateQueues guesses the queues from our id prefixes (`backup-…` is in backup or backup@host); else every queue. */
function candidateQueues(queues: Queues, jobId: string): Queues['all'] {
  const prefix = jobId.split('-', 1)[0];
  const match = queues.all.filter(({ type }) => type === prefix);
  if (match.length > 0) return match;
  return queues.all;
}

/** findJobStatus looks a job up in every queue; null when no queue knows it. */
export async function findJobStatus(queues: Queues, jobId: string): Promise<JobStatus | null> {
  for (const { name, queue } of candidateQueues(queues, jobId)) {
    // The state before the job: read the other way round, a job that finished in between showed
    // `completed` with the result it had before completing (none), and a poller took that as final.
    const state = await queue.getJobState(jobId);
    if (state === 'unknown') continue;
    const job = (await queue.getJob(jobId)) as Job | undefined;
    if (!job) continue;
    return {
      id: job.id!,
      queue: name,
      source: sourceOf(job.data),
      name: job.name,
      state,
      progress: typeof job.progress === 'object' ? job.progress : null,
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      result: job.returnvalue ?? null,
      failedReason: job.failedReason || null,
      createdAt: iso(job.timestamp),
      startedAt: iso(job.processedOn),
      finishedAt: iso(job.finishedOn),
    };
  }
  return null;
}

/** sourceOf reads the source a job's data names, for display only (a job's data is checked by the worker, not here). */
function sourceOf(data: unknown): string {
  const source = (data as { source?: unknown } | null)?.source;
  return typeof source === 'string' && SOURCE_NAME.test(source) ? source : DEFAULT_SOURCE;
}
