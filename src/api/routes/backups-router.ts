import { Router } from 'express';
import Joi from 'joi';
import { findBackup } from '../../backups/find-backup.js';
import { listBackups } from '../../backups/list-backups.js';
import { enqueueBackup, enqueuePrune, enqueueRestore, type EnqueuedJob } from '../../queue/enqueue.js';
import type { Queues } from '../../queue/queues.js';
import type { BackupStore } from '../../storage/backup-store.js';
import type { Logger } from '../../logging/create-logger.js';
import type { SealPassphrase } from '../../age/passphrase-sealer.js';
import { ApiError } from '../http-errors.js';
import { sealRequestPassphrase } from '../seal-request-passphrase.js';
import { validateBody } from '../validate.js';

// A passphrase is sealed for the workers before anything reaches Redis (issue 7); never logged.
const passphrase = Joi.string().min(1).max(1024);
const createSchema = Joi.object({ passphrase }).unknown(false);
const restoreSchema = Joi.object({ force: Joi.boolean(), passphrase }).unknown(false);
// dryRun is required: a call that deletes backups must say so, never by an empty body.
const pruneSchema = Joi.object({ dryRun: Joi.boolean().required(), force: Joi.boolean() }).unknown(false);

const accepted = (job: EnqueuedJob) => ({ jobId: job.jobId, statusUrl: `/api/jobs/${encodeURIComponent(job.jobId)}` });

/**
 * backupsRouter serves `/api/backups…`: it validates, enqueues and answers with a job id; the work
 * itself happens in a worker. With no store configured every call is 503 backups_disabled.
 */
export function backupsRouter(deps: { store: BackupStore | undefined; queues: Queues; logger: Logger; sealPassphrase?: SealPassphrase }): Router {
  const router = Router();
  const { queues, logger } = deps;

  router.use((_req, _res, next) => {
    if (!deps.store) {
      next(new ApiError(503, 'backups_disabled', 'backups are disabled: set BACKUP_S3_ENDPOINT (or BACKUP_LOCAL_DIR) to enable them'));
      return;
    }
    next();
  });
  const store = (): BackupStore => deps.store!;

  router.post('/', async (req, res) => {
    const body = validateBody(createSchema, req.body);
    const sealed = await sealRequestPassphrase(deps.sealPassphrase, body.passphrase);
    const job = await enqueueBackup(queues, { trigger: 'api', ...sealed });
    logger.info('backup requested', { jobId: job.jobId, deduplicated: job.deduplicated, by: req.token?.name });
    res.status(202).json({ ...accepted(job), deduplicated: job.deduplicated });
  });

  router.get('/', async (_req, res) => {
    const backups = await listBackups(store());
    res.json({ backups });
  });

  router.post('/prune', async (req, res) => {
    const body = validateBody(pruneSchema, req.body);
    const job = await enqueuePrune(queues, { dryRun: body.dryRun, ...(body.force ? { force: true } : {}) });
    logger.info('prune requested', { jobId: job.jobId, dryRun: body.dryRun, by: req.token?.name });
    res.status(202).json(accepted(job));
  });

  router.post('/:id/restore', async (req, res) => {
    const body = validateBody(restoreSchema, req.body);
    const backup = await findBackup(store(), req.params.id);
    const sealed = await sealRequestPassphrase(deps.sealPassphrase, body.passphrase);
    const job = await enqueueRestore(queues, { backupId: backup.id, ...(body.force ? { force: true } : {}), ...sealed });
    logger.info('restore requested', { jobId: job.jobId, backupId: backup.id, by: req.token?.name });
    res.status(202).json(accepted(job));
  });

  return router;
}
