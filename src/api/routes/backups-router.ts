import { Router, type Request, type Response } from 'express';
import Joi from 'joi';
import { findBackup } from '../../backups/find-backup.js';
import { listBackups } from '../../backups/list-backups.js';
import { enqueueBackup, enqueuePrune, enqueueRestore, type EnqueuedJob } from '../../queue/enqueue.js';
import { enqueueApply } from '../../queue/enqueue.js';
import type { Queues } from '../../queue/queues.js';
import type { BackupStore } from '../../storage/backup-store.js';
import type { Logger } from '../../logging/create-logger.js';
import type { SealPassphrase } from '../../age/passphrase-sealer.js';
import { isBackupId } from '../../backups/backup-id.js';
import { SnapkeepError } from '../../errors.js';
import { clearAnomalyRecord } from '../../guardrail/anomaly-records.js';
import { enqueueVerify } from '../../queue/enqueue.js';
import { withBackupStatus } from '../../verification/backup-status.js';
import type { VerificationRecords } from '../../verification/verification-records.js';
import { ApiError } from '../http-errors.js';
import { sealRequestPassphrase } from '../seal-request-passphrase.js';
import type { SourceCatalog } from '../source-catalog.js';
import { validateBody } from '../validate.js';

// A passphrase is sealed for the workers before anything reaches Redis (issue 7); never logged.
const passphrase = Joi.string().min(1).max(1024);
const createSchema = Joi.object({ passphrase }).unknown(false);
const restoreSchema = Joi.object({ force: Joi.boolean(), passphrase }).unknown(false);
// Never a command: the worker runs only its own APP_STOP_COMMAND and APP_START_COMMAND.
const applySchema = Joi.object({ passphrase }).unknown(false);
// Restore drills take a passphrase for a passphrase backup, like restores; accepting an anomaly takes nothing.
const verifySchema = Joi.object({ passphrase }).unknown(false);
const acceptSchema = Joi.object({}).unknown(false);
// dryRun is required: a call that deletes backups must say so, never by an empty body.
const pruneSchema = Joi.object({ dryRun: Joi.boolean().required(), force: Joi.boolean() }).unknown(false);

const accepted = (job: EnqueuedJob) => ({ jobId: job.jobId, statusUrl: `/api/jobs/${encodeURIComponent(job.jobId)}` });

/**
 * backupsRouter serves `/api/backups…`: it validates, enqueues and answers with a job id; the work
 * itself happens in a worker. With no store configured every call is 503 backups_disabled.
 */
export function backupsRouter(deps: {
  catalog: SourceCatalog; queues: Queues; logger: Logger; sealPassphrase?: SealPassphrase;
  /** The master keys that vouch for drill and anomaly records (issue 16), and the drills' records. */
  masterKeys?: ReadonlyArray<Buffer | undefined>; verifications?: VerificationRecords;
}): Router {
  // mergeParams: mounted at /api/sources/:name/backups, `name` is the source; at /api/backups there is none (the primary source).
  const router = Router({ mergeParams: true });
  const { queues, logger } = deps;

  const sourceOf = (req: Request) => requestSource(deps.catalog, req);
  // A request about one backup: its body checked, the backup found, a passphrase sealed for the workers.
  const aboutBackup = async <B extends { passphrase?: string }>(schema: Joi.Schema<B>, req: Request) => {
    const { source, store } = sourceOf(req);
    const body = validateBody(schema, req.body);
    const backup = await findBackup(store, String(req.params.id));
    return { source, body, backupId: backup.id, sealed: await sealRequestPassphrase(deps.sealPassphrase, body.passphrase) };
  };

  router.post('/', async (req, res) => {
    const { source } = sourceOf(req);
    const body = validateBody(createSchema, req.body);
    const sealed = await sealRequestPassphrase(deps.sealPassphrase, body.passphrase);
    const job = await enqueueBackup(queues, { trigger: 'api', source, ...sealed });
    logger.info('backup requested', { jobId: job.jobId, source, deduplicated: job.deduplicated, by: req.token?.name });
    res.status(202).json({ ...accepted(job), deduplicated: job.deduplicated });
  });

  router.get('/', async (req, res) => {
    const { source, store } = sourceOf(req);
    // Each backup's last restore drill and anomaly flag (issue 16) beside what the store lists.
    const backups = await withBackupStatus(await listBackups(store, { logger }), {
      store, masterKeys: deps.masterKeys ?? [], ...(deps.verifications ? { verifications: deps.verifications } : {}),
    });
    res.json({ source, backups });
  });

  router.post('/prune', pruneHandler(deps));

  router.post('/:id/restore', async (req, res) => {
    const { source, body, backupId, sealed } = await aboutBackup(restoreSchema, req);
    const job = await enqueueRestore(queues, { source, backupId, ...(body.force ? { force: true } : {}), ...sealed });
    logger.info('restore requested', { jobId: job.jobId, source, backupId, by: req.token?.name });
    res.status(202).json(accepted(job));
  });

  router.post('/:id/apply', async (req, res) => {
    const { source, backupId, sealed } = await aboutBackup(applySchema, req);
    const job = await enqueueApply(queues, { source, backupId, ...sealed });
    logger.info('apply requested', { jobId: job.jobId, source, backupId, by: req.token?.name });
    res.status(202).json(accepted(job));
  });

  router.post('/:id/verify', async (req, res) => {
    const { source, backupId, sealed } = await aboutBackup(verifySchema, req);
    const job = await enqueueVerify(queues, { trigger: 'api', source, backupId, ...sealed });
    logger.info('restore drill requested', { jobId: job.jobId, source, backupId, by: req.token?.name });
    res.status(202).json(accepted(job));
  });

  router.post('/:id/accept', async (req, res) => {
    const { store } = sourceOf(req);
    validateBody(acceptSchema, req.body);
    const { id } = req.params;
    if (!isBackupId(id)) throw new SnapkeepError('invalid_backup_id', 'not a backup id: expected YYYYMMDDTHHMMSSZ-xxxxxxxx');
    if (!(await clearAnomalyRecord(store, id))) throw new SnapkeepError('not_flagged', `backup ${id} is not flagged as an anomaly`);
    logger.info('anomaly accepted: the retention policy decides again', { backupId: id, by: req.token?.name });
    res.json({ backupId: id, accepted: true });
  });
  return router;
}

/**
 * requestSource is the source a request is about: `:name` of /api/sources/:name/…, else the primary
 * one. Declared (else 404 source_not_found), with a store (else 503 backups_disabled).
 */
export function requestSource(catalog: SourceCatalog, req: Request): { source: string; store: BackupStore } {
  const name = (req.params as { name?: string }).name;
  const { source, store } = catalog.resolve(name);
  if (!store) throw new ApiError(503, 'backups_disabled', 'backups are disabled: set BACKUP_S3_ENDPOINT (or BACKUP_LOCAL_DIR) to enable them');
  return { source: source.name, store };
}

/** pruneHandler serves `POST /api/backups/prune` and `POST /api/sources/:name/prune`. */
export function pruneHandler(deps: { catalog: SourceCatalog; queues: Queues; logger: Logger }): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    const { source } = requestSource(deps.catalog, req);
    const body = validateBody(pruneSchema, req.body);
    const job = await enqueuePrune(deps.queues, { source, dryRun: body.dryRun, ...(body.force ? { force: true } : {}) });
    deps.logger.info('prune requested', { jobId: job.jobId, source, dryRun: body.dryRun, by: req.token?.name });
    res.status(202).json(accepted(job));
  };
}
