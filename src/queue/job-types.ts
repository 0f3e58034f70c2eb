import type { HealthchecksPing } from '../notify/deliver.js';
import type { NotificationEvent } from '../notify/notification-event.js';
import type { HEALTHCHECKS_TARGET } from '../notify/notify-targets.js';

/**
 * Job names, payloads and results, declared once and shared by the API (producer), the workers and
 * the CLI. Job data is readable by anyone with Redis access: never put a secret in it.
 */
export const QUEUE_NAMES = ['backup', 'restore', 'prune', 'apply', 'verify', 'notify'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export type ProgressPhase = 'snapshot' | 'upload' | 'download' | 'verify' | 'prune' | 'apply';

/** JobProgress is what a running job reports and what `GET /api/jobs/:id` shows. */
export interface JobProgress {
  phase: ProgressPhase;
  percent: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface BackupJobData {
  /** The source (SNAPKEEP_CONFIG) this job is for; absent: `default`. Its worker must serve it. */
  source?: string;
  trigger: 'api' | 'cli' | 'schedule';
  /**
   * A passphrase for an age backup, sealed to the live workers' ephemeral keys (src/age): never the
   * passphrase itself, which must not reach Redis.
   */
  sealedPassphrase?: string;
}

export interface BackupResult {
  backupId: string;
  /**
   * Where the object is, the same `key` as `GET /api/backups` lists: its full key in the bucket
   * (`{BACKUP_S3_PREFIX}{id}.crbu`), or its file name in BACKUP_LOCAL_DIR (BackupStore.keyOf). Not
   * a store name: store calls take the name under the prefix (backupObjectName), never this.
   */
  key: string;
  size: number;
  databaseSize: number;
  createdAt: string;
  durationMs: number;
  kind: 'database' | 'archive';
  encryption: 'master-key' | 'passphrase' | 'public-key';
  /** zstd before encryption (BACKUP_COMPRESSION), or none. */
  compression: 'none' | 'zstd';
}

export interface RestoreJobData {
  /** The source (SNAPKEEP_CONFIG) this job is for; absent: `default`. Its worker must serve it. */
  source?: string;
  backupId: string;
  force?: boolean;
  /** A passphrase backup's passphrase, sealed like BackupJobData's. */
  sealedPassphrase?: string;
  /** Archives only: the new directory to restore into (default `{STATE_DIR}/restore/{id}`); it must not exist. */
  target?: string;
}

export interface RestoreResult {
  backupId: string;
  /** Where the verified database was written: `{DB_PATH}.restore.{id}`. */
  path: string;
  size: number;
  durationMs: number;
  /** Which master key opened it: 0 is MASTER_KEY, n is the nth of MASTER_KEY_PREVIOUS; absent for age backups. */
  keyIndex?: number;
  /** The live database's journal mode when the backup was taken, given to the restored file (absent for older backups). */
  journalMode?: string;
  /**
   * `verified`: a master key vouched for what the backup holds (a database's recorded facts, an
   * archive's manifest); `unverified`: it carries no such record (made before 0.2, by another CRBU
   * writer, or planted) and was restored on the AES-GCM tag alone, or with --trust-unverified.
   */
  origin?: 'verified' | 'unverified';
  /** Archives: `path` is the restored directory; what it holds and where each part belongs. */
  archive?: RestoredArchive;
}

/** RestoredArchive summarises an archive restore: counts, the moves in safe order, what the backup left out. */
export interface RestoredArchive {
  files: number;
  moves: Array<{ from: string; to: string; group: string }>;
  skipped: Array<{ path: string; reason: string }>;
}

export interface PruneJobData {
  /** The source (SNAPKEEP_CONFIG) this job is for; absent: `default`. Its worker must serve it. */
  source?: string;
  dryRun: boolean;
  /** ISO time to plan as of; default now. */
  at?: string;
  force?: boolean;
}

export interface PruneResult {
  kept: string[];
  deleted: string[];
  dryRun: boolean;
  /**
   * For each kept id, the rules that kept it (`daily 2026-11-21`, `weekly 2026-W47`, `newest`, `future`),
   * or `restoring` for a backup the policy would delete but an unfinished restore job needs.
   */
  reasons: Record<string, string[]>;
  /** Why nothing was deleted, when a safety rail stopped the prune. */
  skippedReason?: string;
}

/**
 * ApplyJobData asks a worker to put a backup in place of the live data (`backup apply`). It never
 * carries a command: the worker runs only the APP_STOP_COMMAND and APP_START_COMMAND of its host.
 */
export interface ApplyJobData {
  /** The source (SNAPKEEP_CONFIG) this job is for; absent: `default`. Its worker must serve it. */
  source?: string;
  backupId: string;
  /** A passphrase backup's passphrase, sealed like BackupJobData's. */
  sealedPassphrase?: string;
}

/** AppliedMove is one rename an apply or rollback made: live data kept aside, or a restored copy put into place. */
export interface AppliedMove {
  from: string;
  to: string;
  role: 'aside' | 'into place';
  /** Copied rather than renamed (another filesystem); from is still there. */
  copied?: true;
}

/** SwapReport is what an apply or a rollback did to the live files, and how to undo it by hand. */
export interface SwapReport {
  /** Every move, in the order made. */
  moves: AppliedMove[];
  /** Shell lines that undo the moves, in the order to run them (with the application stopped). */
  undo: string[];
  /** The stop and start commands run, as shell would read them. */
  commands: { stop?: string; start?: string };
  /** The processes that had the database open when the stop command ran. */
  stopped: Array<{ pid: number; command: string }>;
  /** The placed database: where, its owner, group and mode (octal), and its journal mode. */
  database: { path: string; uid: number; gid: number; mode: string; journalMode: string };
  durationMs: number;
}

/** ApplyResult is an apply's record: the backup, whether it had to be restored first, and the swap. */
export interface ApplyResult extends SwapReport {
  backupId: string;
  kind: 'database' | 'archive';
  /** The verified restore that was put in place: `{DB_PATH}.restore.{id}` or the archive's restore directory. */
  source: string;
  /** True when the apply restored the backup itself (no verified restore was waiting). */
  restored: boolean;
}

/**
 * VerifyJobData asks for a restore drill (issue 16): one backup (`api`, `cli`), or the scheduled
 * drill's pick (`schedule`: the newest backup and one older one at random).
 */
export interface VerifyJobData {
  /** The source (SNAPKEEP_CONFIG) this job is for; absent: `default`. Its worker must serve it. */
  source?: string;
  trigger: 'api' | 'cli' | 'schedule';
  /** The backup to verify; absent only for the schedule's drill. */
  backupId?: string;
  /** A passphrase backup's passphrase, sealed like BackupJobData's. */
  sealedPassphrase?: string;
}

/** VerifyCheck names one check of a drill, in the order they run. */
export type VerifyCheck = 'download' | 'decrypt' | 'origin' | 'archive-entries' | 'sqlite-header' | 'integrity_check' | 'fingerprint';

/** BackupVerification is one backup's drill: every check that ran, and the one that failed. */
export interface BackupVerification {
  backupId: string;
  verified: boolean;
  verifiedAt: string;
  durationMs: number;
  checks: Array<{ check: VerifyCheck; outcome: 'passed' | 'failed' | 'skipped'; detail?: string }>;
  /** When verified is false: which check failed, and why. */
  failedCheck?: VerifyCheck;
  reason?: string;
}

/** VerifyResult is a verify job's result: one verification per backup drilled (none when there was nothing to drill). */
export interface VerifyResult {
  verifications: BackupVerification[];
  /** True when every verification passed. */
  verified: boolean;
  /** Why nothing was verified (the schedule's drill on an empty store). */
  skippedReason?: string;
}

/**
 * NotifyJobData is one delivery: an event to one webhook (named by its id, never its URL), or a
 * healthchecks ping. Built from settings and redacted: never a secret (src/notify).
 */
export type NotifyJobData =
  | { target: string; notification: NotificationEvent }
  | { target: typeof HEALTHCHECKS_TARGET; ping: HealthchecksPing; message: string };

/** NotifyResult is what the receiver answered. */
export interface NotifyResult {
  target: string;
  status: number;
}

export const JOB_NAMES = { backup: 'backup', restore: 'restore', prune: 'prune', apply: 'apply', verify: 'verify', notify: 'notify' } as const satisfies Record<QueueName, string>;
