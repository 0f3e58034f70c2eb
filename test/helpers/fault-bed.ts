import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobView } from './api-client.js';
import { runCli } from './cli.js';
import { freePort } from './redis-server.js';

/** FaultBed is a fresh directory, settings and superadmin token for one fault test's `snapkeep` processes. */
export interface FaultBed {
  dir: string;
  dbPath: string;
  stateDir: string;
  masterKey: string;
  /** The environment of every `snapkeep` process of the test. */
  env: Record<string, string>;
  /** The API's base URL (http://127.0.0.1:PORT). */
  base: string;
  admin: string;
}

/** S3Target is where a bed's S3 settings point (often a proxy in front of the test server). */
export interface S3Target {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * prepareFaultBed makes a directory, a master key, a free API port, a queue prefix and a superadmin
 * token; the store is the given S3 target, else a directory. The schedule is off; retries are quick.
 */
export async function prepareFaultBed(options: {
  name: string;
  redisUrl: string;
  s3?: S3Target;
  env?: Record<string, string>;
  /** A directory under the bed's, made for DB_PATH (so a test can mount a small filesystem on it). */
  dbSubdir?: string;
}): Promise<FaultBed> {
  const dir = mkdtempSync(join(tmpdir(), `snapkeep-${options.name}-`));
  const dbDir = join(dir, options.dbSubdir ?? '');
  mkdirSync(dbDir, { recursive: true });
  const port = await freePort();
  const masterKey = randomBytes(32).toString('hex');
  const store: Record<string, string> = options.s3
    ? {
      BACKUP_S3_ENDPOINT: options.s3.endpoint, BACKUP_S3_BUCKET: options.s3.bucket,
      BACKUP_S3_ACCESS_KEY: options.s3.accessKeyId, BACKUP_S3_SECRET_KEY: options.s3.secretAccessKey,
    }
    : { BACKUP_LOCAL_DIR: join(dir, 'backups') };
  const env: Record<string, string> = {
    DB_PATH: join(dbDir, 'app.db'), MASTER_KEY: masterKey, STATE_DIR: join(dir, 'state'), REDIS_URL: options.redisUrl,
    PORT: String(port), BACKUP_SCHEDULE_HOURS: '0', QUEUE_PREFIX: `${options.name}${randomBytes(3).toString('hex')}`,
    BACKUP_JOB_BACKOFF_MS: '500', ...store, ...options.env,
  };
  const created = await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env);
  if (created.code !== 0) {
    // The caller never gets the bed, so its afterAll cannot remove the directory: do it here.
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`token create failed: ${created.stderr}`);
  }
  return { dir, dbPath: env.DB_PATH!, stateDir: env.STATE_DIR!, masterKey, env, base: `http://127.0.0.1:${port}`, admin: created.stdout.trim() };
}

/** callApi sends an authenticated JSON request and returns the status and parsed body. */
export async function callApi<T>(bed: FaultBed, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${bed.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${bed.admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** jobNow is a job's current status. */
export async function jobNow(bed: FaultBed, jobId: string): Promise<JobView> {
  const { status, body } = await callApi<JobView>(bed, 'GET', `/api/jobs/${encodeURIComponent(jobId)}`);
  if (status !== 200) throw new Error(`GET /api/jobs/${jobId} answered ${status}`);
  return body;
}

/** waitForJob polls a job until accept(job) holds; it throws with the last status after timeoutMs. */
export async function waitForJob(bed: FaultBed, jobId: string, accept: (job: JobView) => boolean, timeoutMs = 60_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await jobNow(bed, jobId);
    if (accept(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} never got there: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** isFinished accepts a completed or failed job. */
export const isFinished = (job: JobView): boolean => job.state === 'completed' || job.state === 'failed';
