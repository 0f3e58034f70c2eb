import { SnapkeepError } from '../errors.js';

/** VANISHED is why a path the walk found is not archived when it is gone by the time it is read. */
export const VANISHED = 'vanished during the backup';

/** unreadable names the path and the reason; permissions do not fix themselves, so no retry. */
export function unreadable(path: string, error: unknown): SnapkeepError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code;
  const retryable = !(code === 'EACCES' || code === 'EPERM' || code === 'ELOOP');
  return new SnapkeepError('snapshot_failed', `cannot read ${path}: ${reason}`, { retryable, cause: error });
}

/**
 * replaced is a path that is no longer what the walk saw: a directory or file swapped for a link,
 * or for another file. Never followed; a later run may find the tree settled, so it may retry.
 */
export function replaced(path: string): SnapkeepError {
  return new SnapkeepError('snapshot_failed', `${path} was replaced while it was being backed up (links are never followed); try again`, { retryable: true });
}

/** errorCode is a file system error's code, or undefined. */
export const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/**
 * openFailed explains a failed open of a path the walk found: null when it vanished since; a link
 * (ELOOP under O_NOFOLLOW) or another type (ENOTDIR) in its place is `replaced`; else `unreadable`.
 */
export function openFailed(error: unknown, path: string): null {
  const code = errorCode(error);
  if (code === 'ENOENT') return null;
  if (code === 'ELOOP' || code === 'ENOTDIR') throw replaced(path);
  throw unreadable(path, error);
}
