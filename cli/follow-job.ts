import { findJobStatus, type JobStatus } from '../src/queue/job-status.js';
import type { JobProgress } from '../src/queue/job-types.js';
import type { Queues } from '../src/queue/queues.js';
import { SnapkeepError } from '../src/errors.js';

/**
 * followJob polls a queued job until it completes or fails, passing its progress along, as a REST
 * client would. A failed job rejects with its failedReason.
 */
export async function followJob(queues: Queues, jobId: string, onProgress: (p: JobProgress) => void): Promise<JobStatus> {
  for (;;) {
    const status = await findJobStatus(queues, jobId);
    if (!status) throw new SnapkeepError('internal', `job ${jobId} disappeared from the queue`);
    if (status.progress && typeof status.progress === 'object' && 'phase' in status.progress) onProgress(status.progress as JobProgress);
    if (status.state === 'completed') return status;
    if (status.state === 'failed') throw new SnapkeepError('internal', status.failedReason ?? `job ${jobId} failed`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
