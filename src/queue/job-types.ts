/**
 * Job names, payloads and results, declared once and shared by the API (producer), the workers and
 * the CLI. Job data is readable by anyone with Redis access: never put a secret in it.
 */
export const QUEUE_NAMES = ['backup', 'restore', 'prune'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export type ProgressPhase = 'snapshot' | 'upload' | 'download' | 'verify' | 'prune';

/** JobProgress is what a running job reports and what `GET /api/jobs/:id` shows. */
export interface JobProgress {
  phase: ProgressPhase;
  percent: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface BackupJobData {
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
  /** Archives: `path` is the restored directory; what it holds and where each part belongs. */
  archive?: RestoredArchive;
  /**
   * Archives: `verified` when a master key proved who made it (its authenticator, or a CRBU
   * envelope); `unverified` when the operator restored it with --trust-unverified.
   */
  origin?: 'verified' | 'unverified';
}

/** RestoredArchive summarises an archive restore: counts, the moves in safe order, what the backup left out. */
export interface RestoredArchive {
  files: number;
  moves: Array<{ from: string; to: string; group: string }>;
  skipped: Array<{ path: string; reason: string }>;
}

export interface PruneJobData {
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

export const JOB_NAMES = { backup: 'backup', restore: 'restore', prune: 'prune' } as const satisfies Record<QueueName, string>;
