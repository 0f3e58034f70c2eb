import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { ApplyJobData, BackupJobData, PruneJobData, RestoreJobData, VerifyJobData } from './job-types.js';
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

/**
 * addSigned adds one job to a queue whose job name is the queue's, under a fresh `{queue}-{uuid}`
 * id, signed for that queue, name and id.
 */
async function addSigned(queues: Queues, queue: 'restore' | 'prune' | 'verify', data: object): Promise<EnqueuedJob> {
  const jobId = `${queue}-${randomUUID()}`;
  const job = await (queues[queue] as Queue).add(queue, queues.signer().sign({ queue, name: queue, id: jobId }, data), { jobId });
  return { jobId: job.id!, deduplicated: false };
}

/** enqueueRestore adds a restore job. */
export const enqueueRestore = (queues: Queues, data: RestoreJobData): Promise<EnqueuedJob> => addSigned(queues, 'restore', data);

/** enqueuePrune adds a prune job. */
export const enqueuePrune = (queues: Queues, data: PruneJobData): Promise<EnqueuedJob> => addSigned(queues, 'prune', data);

/** enqueueVerify adds a restore drill of one backup. */
export const enqueueVerify = (queues: Queues, data: VerifyJobData): Promise<EnqueuedJob> => addSigned(queues, 'verify', data);

/** enqueueApply adds a `backup apply` job; it carries no command (the worker uses its APP_STOP_COMMAND and APP_START_COMMAND). */
export async function enqueueApply(queues: Queues, data: ApplyJobData): Promise<EnqueuedJob> {
  const jobId = `apply-${randomUUID()}`;
  const job = await queues.apply.add('apply', queues.signer().sign({ queue: 'apply', name: 'apply', id: jobId }, data), { jobId });
  return { jobId: job.id!, deduplicated: false };
}
