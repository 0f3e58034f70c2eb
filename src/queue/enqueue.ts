import { randomUUID } from 'node:crypto';
import type { ApplyJobData, BackupJobData, PruneJobData, RestoreJobData, VerifyJobData } from './job-types.js';
import type { RoutedQueue } from './queue-routes.js';
import { backupDeduplicationId, type Queues } from './queues.js';

/** EnqueuedJob is what a producer learns: the job id, whether it joined a job already queued, and where it went. */
export interface EnqueuedJob {
  jobId: string;
  deduplicated: boolean;
  /** The source the job is for, resolved (a request that named none gets the primary source's name). */
  source: string;
  /** The BullMQ queue it waits in (`backup`, or `backup@host` for a pinned source). */
  queue: string;
}

/**
 * enqueueBackup adds a backup job for its source, or joins the one of that source already waiting:
 * BullMQ's deduplication answers with the existing job's id, which is how we tell the two apart. A
 * backup that has started is not joined (the worker drops its deduplication key as it starts), so a
 * caller that asks after a write always gets a backup whose snapshot is taken after the request.
 */
export async function enqueueBackup(queues: Queues, data: BackupJobData): Promise<EnqueuedJob> {
  const { queue, name, source } = queues.forSource('backup', data.source);
  const ownId = `backup-${randomUUID()}`;
  // A passphrase backup never joins another request, nor is joined: each is locked its own way.
  const joinable = data.sealedPassphrase === undefined ? { deduplication: { id: backupDeduplicationId(source.name) } } : {};
  const signed = queues.signer().sign({ queue: name, name: 'backup', id: ownId }, { ...data, source: source.name });
  const job = await queue.add('backup', signed, { jobId: ownId, ...joinable });
  return { jobId: job.id!, deduplicated: job.id !== ownId, source: source.name, queue: name };
}

/**
 * addSigned adds one job for its source to that source's queue of this type, under a fresh
 * `{type}-{uuid}` id, signed for that queue, name and id.
 */
async function addSigned(queues: Queues, type: Exclude<RoutedQueue, 'backup'>, data: { source?: string }): Promise<EnqueuedJob> {
  const { queue, name, source } = queues.forSource(type, data.source);
  const jobId = `${type}-${randomUUID()}`;
  const job = await queue.add(type, queues.signer().sign({ queue: name, name: type, id: jobId }, { ...data, source: source.name }), { jobId });
  return { jobId: job.id!, deduplicated: false, source: source.name, queue: name };
}

/** enqueueRestore adds a restore job. */
export const enqueueRestore = (queues: Queues, data: RestoreJobData): Promise<EnqueuedJob> => addSigned(queues, 'restore', data);

/** enqueuePrune adds a prune job. */
export const enqueuePrune = (queues: Queues, data: PruneJobData): Promise<EnqueuedJob> => addSigned(queues, 'prune', data);

/** enqueueVerify adds a restore drill of one backup. */
export const enqueueVerify = (queues: Queues, data: VerifyJobData): Promise<EnqueuedJob> => addSigned(queues, 'verify', data);

/** enqueueApply adds a `backup apply` job; it carries no command (the worker uses its APP_STOP_COMMAND and APP_START_COMMAND). */
export const enqueueApply = (queues: Queues, data: ApplyJobData): Promise<EnqueuedJob> => addSigned(queues, 'apply', data);
