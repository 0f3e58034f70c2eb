import type { JobType, Queue } from 'bullmq';
import type { ApplyJobData, RestoreJobData } from '../../src/queue/job-types.js';

// Every state in which a restore job may still read its backup: running, queued, or waiting to retry.
const UNFINISHED: JobType[] = ['active', 'waiting', 'prioritized', 'delayed', 'waiting-children'];

/**
 * backupsBeingRestored is the set of backup ids that unfinished restore (and apply) jobs name.
 * Prune spares them: a restore waiting behind another, or retrying after a cut download, still
 * needs its backup.
 */
export async function backupsBeingRestored(...queues: Array<Queue<RestoreJobData> | Queue<ApplyJobData>>): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const queue of queues) {
    for (const job of await (queue as Queue).getJobs(UNFINISHED)) {
      const backupId = (job?.data as Partial<RestoreJobData> | undefined)?.backupId;
      if (typeof backupId === 'string') ids.add(backupId);
    }
  }
  return ids;
}
