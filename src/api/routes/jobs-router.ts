import { Router } from 'express';
import { findJobStatus } from '../../queue/job-status.js';
import type { Queues } from '../../queue/queues.js';
import { ApiError } from '../http-errors.js';

// BullMQ ids here are ours (`backup-<uuid>`) or the scheduler's (`repeat:…`); anything else is a typo.
const JOB_ID = /^[A-Za-z0-9:_.-]{1,200}$/;

/** jobsRouter serves `GET /api/jobs/:jobId`, the poll every accepted request points at. */
export function jobsRouter(queues: Queues): Router {
  const router = Router();
  router.get('/:jobId', async (req, res) => {
    const { jobId } = req.params;
    if (!JOB_ID.test(jobId)) throw new ApiError(400, 'invalid_job_id', 'not a job id');
    const status = await findJobStatus(queues, jobId);
    if (!status) throw new ApiError(404, 'job_not_found', `no job ${jobId}`);
    res.json(status);
  });
  return router;
}
