import { BackupNotFoundError, SnapkeepError, coerceError } from '../errors.js';

/** What translateFsError needs to know about the failed operation. */
export interface FsErrorContext {
  dir: string;
  /** The object the operation was about; ENOENT on it means the object is missing. */
  name?: string;
}

const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * translateFsError is the one place a directory store's failure becomes a snapkeep error: ENOENT on
 * an object becomes BackupNotFoundError, a full disk is no_space, permissions and a missing
 * directory are final, other I/O errors may pass on a retry.
 */
export function translateFsError(thrown: unknown, context: FsErrorContext): Error {
  if (thrown instanceof SnapkeepError) return thrown;
  const error = coerceError(thrown);
  const code = (thrown as { code?: unknown }).code;
  // Node's own ERR_* codes (streams, arguments) are not the file system's answer.
  if (typeof code !== 'string' || code.startsWith('ERR_') || error.name === 'AbortError') return error;
  const cause = { cause: error };
  const where = `the backup directory "${context.dir}"`;

  if (code === 'ENOENT' && context.name !== undefined) return new BackupNotFoundError(context.name);
  if (code === 'ENOENT') return new SnapkeepError('store_unavailable', `${where} does not exist (check BACKUP_LOCAL_DIR)`, cause);
  if (code === 'ENOTDIR') return new SnapkeepError('store_unavailable', `${where} is not a directory (check BACKUP_LOCAL_DIR)`, cause);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new SnapkeepError('no_space', `no space left in ${where}`, cause);
  if (NOT_WRITABLE.has(code)) return new SnapkeepError('store_unavailable', `${where} is not writable (${code})`, cause);
  return new SnapkeepError('store_unavailable', `${where} failed: ${code}`, { retryable: true, ...cause });
}
