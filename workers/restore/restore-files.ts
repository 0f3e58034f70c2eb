import { link, lstat, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SnapkeepError, coerceError } from '../../src/errors.js';
import { syncPath } from '../../src/sync-path.js';

// Filesystems that cannot hard-link (some FUSE and SMB mounts) answer one of these.
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** restoreTargetPath is where a verified restore appears: `{DB_PATH}.restore.{id}`, beside the live database. */
export const restoreTargetPath = (dbPath: string, backupId: string): string => `${dbPath}.restore.${backupId}`;

/** restoreExists is the refusal to replace a restore already beside the database. */
export const restoreExists = (target: string): SnapkeepError =>
  new SnapkeepError('restore_exists', `${target} already exists; move it away or restore with --force`);

/** assertRestoreTargetFree fails before a long download when the target is taken (placeRestore checks again, atomically). */
export async function assertRestoreTargetFree(target: string, force: boolean): Promise<void> {
  if (!force && (await exists(target))) throw restoreExists(target);
}

/**
 * placeRestore moves the verified temp file to target and flushes the directory entry. Without
 * force it hard-links, which fails if target exists: a restore that appeared during the download
 * (another job, the operator) is never replaced, which a check followed by rename() cannot promise.
 */
export async function placeRestore(temp: string, target: string, force: boolean): Promise<void> {
  if (force) {
    await rename(temp, target);
  } else {
    try {
      await link(temp, target);
      await rm(temp, { force: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST') throw restoreExists(target);
      if (!LINK_UNSUPPORTED.has(code)) throw err;
      if (await exists(target)) throw restoreExists(target);
      await rename(temp, target);
    }
  }
  await syncPath(dirname(target));
}

// syncPath lives in src/ since `backup apply` flushes with it too; restore.ts still imports it from here.
export { syncPath };

/** explainDiskFull turns ENOSPC/EDQUOT while writing a restore into the operator's words. */
export function explainDiskFull(thrown: unknown, dbPath: string): Error {
  const err = coerceError(thrown);
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new SnapkeepError('no_space', `no space left on the disk of ${dirname(dbPath)} while writing the restore; free space and try again`, { cause: err });
  }
  return err;
}

/** exists is lstat-based: a dangling symlink at the target counts as something not to replace. */
async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}
