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
}

export interface BackupResult {
  backupId: string;
  key: string;
  size: number;
  databaseSize: number;
  createdAt: string;
  durationMs: number;
  kind: 'database' | 'archive';
  encryption: 'master-key' | 'age';
}

export interface RestoreJobData {
  backupId: string;
  force?: boolean;
}

export interface RestoreResult {
  backupId: string;
  /** Where the verified database was written: `{DB_PATH}.restore.{id}`. */
  path: string;
  size: number;
  durationMs: number;
  /** Which master key opened it: 0 is MASTER_KEY, n is the nth of MASTER_KEY_PREVIOUS. */
  keyIndex: number;
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
  /** For each kept id, the rules that kept it (`daily 2026-11-21`, `weekly 2026-W47`, `newest`, `future`). */
  reasons: Record<string, string[]>;
  /** Why nothing was deleted, when a safety rail stopped the prune. */
  skippedReason?: string;
}

export const JOB_NAMES = { backup: 'backup', restore: 'restore', prune: 'prune' } as const satisfies Record<QueueName, string>;
