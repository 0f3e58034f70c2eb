import type { Job } from 'bullmq';
import type { QueueName } from './job-types.js';
import type { Queues } from './queues.js';

/** JobStatus is the public view of a job, as `GET /api/jobs/:id` returns it. */
export interface JobStatus {
  id: string;
  queue: QueueName;
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

/** queueForJobId guesses the queue from our id prefixes; scheduler-made ids are backups. */
function candidateQueues(queues: Queues, jobId: string): Queues['all'] {
  const prefix = jobId.split('-', 1)[0];
  const match = queues.all.filter(({ name }) => name === prefix);
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
