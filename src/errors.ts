/**
 * SnapkeepError is every failure snapkeep knows how to explain: a stable code, a message safe to
 * show an operator (never a secret), and whether trying again can help.
 */
export class SnapkeepError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SnapkeepError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export type ErrorCode =
  | 'backup_not_found'
  | 'invalid_backup_id'
  | 'decrypt_failed'
  | 'not_crbu'
  | 'unsupported_version'
  | 'truncated'
  | 'not_sqlite'
  | 'integrity_failed'
  | 'restore_exists'
  | 'no_space'
  | 'snapshot_failed'
  | 'store_auth_failed'
  | 'store_bucket_missing'
  | 'store_unavailable'
  | 'listing_incomplete'
  | 'backups_disabled'
  | 'archive_invalid'
  | 'identity_required'
  | 'invalid_config'
  | 'object_too_large'
  | 'metadata_damaged'
  | 'unauthenticated_job'
  | 'invalid_job'
  | 'unverified_origin'
  | 'database_in_use'
  | 'command_failed'
  | 'apply_failed'
  | 'apply_refused'
  | 'nothing_to_roll_back'
  | 'notify_failed'
  | 'not_flagged'
  | 'source_not_found'
  | 'source_required'
  | 'source_busy'
  | 'internal';

/** BackupNotFoundError is what every store turns its own "missing" (NoSuchKey, ENOENT) into. */
export class BackupNotFoundError extends SnapkeepError {
  constructor(name: string) {
    super('backup_not_found', `backup not found: ${name}`);
    this.name = 'BackupNotFoundError';
  }
}

/** coerceError turns anything thrown into an Error, so every catch can read .message safely. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown));
}

/** isRetryable says whether another attempt of a job may succeed after this error. */
export function isRetryable(thrown: unknown): boolean {
  if (thrown instanceof SnapkeepError) return thrown.retryable;
  // Unknown errors are usually transient (network, disk busy): let BullMQ's backoff decide.
  return true;
}
