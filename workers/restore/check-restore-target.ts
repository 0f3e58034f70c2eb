import { lstat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { SnapkeepError } from '../../src/errors.js';

// Kernel filesystems: writing "files" there changes the system or hangs (a restore into /proc spun a worker at 100 %).
const NEVER = ['/proc', '/sys', '/dev'];

/**
 * checkRestoreTarget accepts a queued archive restore's target only when it is an absolute,
 * normalised path strictly under the restore root (STATE_DIR/restore, or RESTORE_ROOT), outside
 * /proc, /sys and /dev, and no existing component between the root and it is a symbolic link
 * (each is checked with lstat, never followed). Job data comes from Redis: whoever can write to it
 * must not choose where a backup's files land.
 */
export async function checkRestoreTarget(target: string, restoreRoot: string): Promise<void> {
  const root = resolve(restoreRoot);
  if (!isAbsolute(target) || resolve(target) !== target) throw refused(target, 'is not an absolute, normalised path');
  if (NEVER.some((p) => target === p || target.startsWith(`${p}/`))) throw refused(target, 'is inside /proc, /sys or /dev');
  const below = relative(root, target);
  if (below === '' || below.startsWith('..') || isAbsolute(below)) throw refused(target, `is not under the restore root ${root} (RESTORE_ROOT)`);
  let path = root;
  for (const part of below.split(sep)) {
    path = `${path}${sep}${part}`;
    const info = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (info === undefined) return;
    if (info.isSymbolicLink()) throw refused(target, `passes through the symbolic link ${path}`);
    if (path !== target && !info.isDirectory()) throw refused(target, `passes through ${path}, which is not a directory`);
  }
}

const refused = (target: string, why: string): SnapkeepError =>
  new SnapkeepError('invalid_job', `restore target refused: ${JSON.stringify(target)} ${why}`, { retryable: false });
