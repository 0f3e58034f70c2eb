import { canonicalJson, deriveSigningKey, macMatches, macOf } from '../crypto/signing-keys.js';
import { SnapkeepError } from '../errors.js';

/**
 * Job authentication. Anyone who can write to Redis can add or rewrite a job, so a worker runs
 * only jobs made by a holder of the master key: the API, the CLI (`--queue`), the schedule
 * template and the worker's own follow-up prune sign each job's queue, name, id (or, for the
 * schedule template, the scheduler id) and whole data with an HMAC under a key derived from the
 * master key. The MAC covers everything a worker reads, so a signed job cannot be turned into
 * another, moved to another queue, or its data copied into a new job.
 */

/** JobAuth is the signature a job's data carries, as its `auth` field. */
export interface JobAuth {
  v: 1;
  /** When it was signed (ISO time): a job not run within JOB_VALIDITY_MS of it is refused. */
  issuedAt: string;
  /** Set on a job scheduler's template: the jobs it fires are `repeat:{scheduler}:{time}`. */
  scheduler?: string;
  mac: string;
}

/** A job's data as stored in Redis: the payload and its signature. */
export type SignedData<D> = D & { auth: JobAuth };

/** A signed job not started within a day of signing is refused (a retry of the same job is not). */
export const JOB_VALIDITY_MS = 24 * 3600_000;
/** Clocks of producers and workers may differ by this much. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** What a job is, as far as its signature is concerned. */
export interface JobIdentity {
  queue: string;
  name: string;
  /** The job's id, or for a scheduler template the scheduler's id (`scheduler` then set). */
  id: string;
}

function macText(who: JobIdentity, scheduler: boolean, issuedAt: string, data: object): string {
  return canonicalJson({ v: 1, queue: who.queue, name: who.name, [scheduler ? 'scheduler' : 'jobId']: who.id, issuedAt, data });
}

/** JobSigner signs job data with the key derived from the master key. */
export class JobSigner {
  private readonly key: Buffer;
  constructor(masterKey: Buffer) {
    this.key = deriveSigningKey(masterKey, 'jobs');
  }

  /** sign returns data with its `auth` for the job `who`. */
  sign<D extends object>(who: JobIdentity, data: D, now: Date = new Date()): SignedData<D> {
    const issuedAt = now.toISOString();
    return { ...data, auth: { v: 1, issuedAt, mac: macOf(this.key, macText(who, false, issuedAt, data)) } };
  }

  /** signTemplate signs a job scheduler's template: `who.id` is the scheduler id. */
  signTemplate<D extends object>(who: JobIdentity, data: D, now: Date = new Date()): SignedData<D> {
    const issuedAt = now.toISOString();
    return { ...data, auth: { v: 1, issuedAt, scheduler: who.id, mac: macOf(this.key, macText(who, true, issuedAt, data)) } };
  }

  /** verifyTemplate says whether a scheduler's stored template is one this key signed for it. */
  verifyTemplate(who: JobIdentity, raw: unknown): boolean {
    const split = splitAuth(raw);
    if (!split || split.auth.scheduler !== who.id) return false;
    return macMatches(this.key, macText(who, true, split.auth.issuedAt, split.data), split.auth.mac);
  }

  /**
   * verify checks a job read from Redis and returns its data without `auth` and the signature, or
   * throws UnauthenticatedJobError saying why. Whether the job ran before is not Redis's to say
   * (its attempt count is a field anyone can write): the worker's JobLedger decides that.
   */
  verify(job: JobIdentity & { data: unknown }, now: Date = new Date()): { data: Record<string, unknown>; auth: JobAuth } {
    const split = splitAuth(job.data);
    if (!split) throw new UnauthenticatedJobError('the job carries no signature');
    const { auth, data } = split;
    let who: JobIdentity = job;
    if (auth.scheduler !== undefined) {
      // A job fired by a scheduler has the id `repeat:{scheduler}:{millis}` and the template's data.
      if (!job.id.startsWith(`repeat:${auth.scheduler}:`)) throw new UnauthenticatedJobError('a scheduler signature on a job the scheduler did not fire');
      who = { ...job, id: auth.scheduler };
    }
    if (!macMatches(this.key, macText(who, auth.scheduler !== undefined, auth.issuedAt, data), auth.mac)) {
      throw new UnauthenticatedJobError('the signature does not match the job (forged, altered, or made with another master key)');
    }
    const issued = Date.parse(auth.issuedAt);
    if (issued > now.getTime() + CLOCK_SKEW_MS) throw new UnauthenticatedJobError('the signature is dated in the future');
    // A schedule template is signed once and stands for as long as the schedule: its jobs are dated
    // by their slot instead (checked by slotTime).
    if (auth.scheduler === undefined && now.getTime() - issued > JOB_VALIDITY_MS) {
      throw new UnauthenticatedJobError('the signature has expired (signed more than a day ago)');
    }
    if (auth.scheduler !== undefined) {
      const slot = slotTime(job.id);
      if (slot === undefined || slot > now.getTime() + CLOCK_SKEW_MS || now.getTime() - slot > JOB_VALIDITY_MS) {
        throw new UnauthenticatedJobError('a scheduled job whose slot time is not within the last day');
      }
    }
    return { data, auth };
  }
}

/** slotTime is the time in a scheduler-fired job's id, `repeat:{scheduler}:{millis}`. */
export function slotTime(jobId: string): number | undefined {
  const m = /^repeat:.+:(\d{1,15})$/.exec(jobId);
  return m ? Number(m[1]) : undefined;
}

/** splitAuth separates `auth` from the payload, checking only its shape. */
function splitAuth(raw: unknown): { auth: JobAuth; data: Record<string, unknown> } | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { auth, ...data } = raw as Record<string, unknown>;
  if (typeof auth !== 'object' || auth === null) return undefined;
  const a = auth as Record<string, unknown>;
  const keys = Object.keys(a).sort().join(',');
  if (keys !== 'issuedAt,mac,v' && keys !== 'issuedAt,mac,scheduler,v') return undefined;
  if (a.v !== 1 || typeof a.issuedAt !== 'string' || Number.isNaN(Date.parse(a.issuedAt)) || typeof a.mac !== 'string') return undefined;
  if (a.scheduler !== undefined && typeof a.scheduler !== 'string') return undefined;
  return { auth: a as unknown as JobAuth, data };
}

/** UnauthenticatedJobError is a job that fails its signature check: it fails at once, never retried. */
export class UnauthenticatedJobError extends SnapkeepError {
  constructor(reason: string) {
    super('unauthenticated_job', `unauthenticated job refused: ${reason}`, { retryable: false });
    this.name = 'UnauthenticatedJobError';
  }
}
