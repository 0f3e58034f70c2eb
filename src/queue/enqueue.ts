import { randomUUID } from 'node:crypto';
import type { BackupJobData, PruneJobData, RestoreJobData } from './job-types.js';
import { BACKUP_DEDUPLICATION_ID, type Queues } from './queues.js';

/** EnqueuedJob is what a producer learns: the job id, and whether it joined a job already queued. */
export interface EnqueuedJob {
  jobId: string;
  deduplicated: boolean;
}

/**
 * enqueueBackup adds a backup job, or joins the one already waiting: BullMQ's deduplication answers
 * with the existing job's id, which is how we tell the two apart. A backup that has started is not
 * joined (the worker drops its deduplication key as it starts), so a caller that asks after a
 * write always gets a backup whose snapshot is taken after the request.
 */
export async function enqueueBackup(queues: Queues, data: BackupJobData): Promise<EnqueuedJob> {
  const ownId = `backup-${randomUUID()}`;
  // A passphrase backup never joins another request, nor is joined: each is locked its own way.
  const joinable = data.sealedPassphrase === undefined ? { deduplication: { id: BACKUP_DEDUPLICATION_ID } } : {};
  const signed = queues.signer().sign({ queue: 'backup', name: 'backup', id: ownId }, data);
  const job = await queues.backup.add('backup', signed, { jobId: ownId, ...joinable });
  return { jobId: job.id!, deduplicated: job.id !== ownId };
}

/** enqueueRestore adds a restore job. */
export async function enqueueRestore(queues: Queues, data: RestoreJobData): Promise<EnqueuedJob> {
  const jobId = `restore-${randomUUID()}`;
  const job = await queues.restore.add('restore', queues.signer().sign({ queue: 'restore', name: 'restore', id: jobId }, data), { jobId });
  return { jobId: job.id!, deduplicated: false };
}

/** enqueuePrune adds a prune job. */
export async function enqueuePrune(queues: Queues, data: PruneJobData): Promise<EnqueuedJob> {
  const jobId = `prune-${randomUUID()}`;
  const job = await queues.prune.add('prune', queues.signer().sign({ queue: 'prune', name: 'prune', id: jobId }, data), { jobId });
  return { jobId: job.id!, deduplicated: false };
}
