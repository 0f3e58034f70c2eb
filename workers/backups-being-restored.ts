import type { JobType, Queue } from 'bullmq';
import type { RestoreJobData } from '../src/queue/job-types.js';

// Every state in which a restore job may still read its backup: running, queued, or waiting to retry.
const UNFINISHED: JobType[] = ['active', 'waiting', 'prioritized', 'delayed', 'waiting-children'];

/**
 * backupsBeingRestored is the set of backup ids that unfinished restore jobs name. Prune spares
 * them: a restore waiting behind another, or retrying after a cut download, still needs its backup.
 */
export async function backupsBeingRestored(queue: Queue<RestoreJobData>): Promise<Set<string>> {
  const jobs = await queue.getJobs(UNFINISHED);
  const ids = new Set<string>();
  for (const job of jobs) {
    const backupId = (job?.data as Partial<RestoreJobData> | undefined)?.backupId;
    if (typeof backupId === 'string') ids.add(backupId);
  }
  return ids;
}
