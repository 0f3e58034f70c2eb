import { constants, type BigIntStats } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { SnapkeepError } from '../errors.js';
import { errorCode, openFailed, replaced, unreadable } from './source-errors.js';

// O_NOFOLLOW: a directory swapped for a link is refused, not followed. O_DIRECTORY: so is anything else.
const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/**
 * fileIdentity is a file's device and inode (bigint: some file systems use all 64 bits): two paths
 * with the same identity are the same file, and no rename or link can give another file this one's.
 */
export const fileIdentity = (info: BigIntStats): string => `${info.dev}:${info.ino}`;

/**
 * DirectoryHandle is an open directory, the one the walk saw (its identity checked). Names under it
 * resolve from the directory itself through `/proc/self/fd/N/{name}`, Node's stand-in for openat():
 * whatever is later renamed or swapped for a link above it, lookups stay inside this directory.
 * Only the last component of such a path is then looked up, and callers open it without
 * following a link, so no link anywhere on the path is ever followed.
 */
export class DirectoryHandle {
  private constructor(private readonly handle: FileHandle, readonly path: string) {}

  /**
   * open opens a directory at `where` (an absolute path for an include path, whose ancestors are
   * the operator's, or `parent.at(name)`) and checks it is `identity`. null when it vanished;
   * throws `replaced` when it is a link or another file now.
   */
  static async open(where: string, path: string, identity: string): Promise<DirectoryHandle | null> {
    const handle = await open(where, DIRECTORY_FLAGS).catch((error: unknown) => openFailed(error, path));
    if (!handle) return null;
    const dir = new DirectoryHandle(handle, path);
    try {
      if (fileIdentity(await handle.stat({ bigint: true })) !== identity) throw replaced(path);
      await dir.checkAnchor(identity);
      return dir;
    } catch (error) {
      await dir.close();
      throw error;
    }
  }

  /** at is the path that names `name` inside this very directory. */
  at(name: string): string {
    return `/proc/self/fd/${this.handle.fd}/${name}`;
  }

  /** list reads this directory's names; a directory removed since it was opened has none. */
  async list(): Promise<string[]> {
    return readdir(this.at('.')).catch((error: unknown) => {
      if (errorCode(error) === 'ENOENT') return [];
      throw unreadable(this.path, error);
    });
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }

  /**
   * checkAnchor proves that `/proc/self/fd/N` leads to this directory (of `identity`). Without /proc
   * (not Linux, or not mounted) every name under it would look vanished: a silently empty archive.
   */
  private async checkAnchor(identity: string): Promise<void> {
    const seen = await stat(this.at('.'), { bigint: true }).catch(() => null);
    if (!seen || fileIdentity(seen) !== identity) {
      throw new SnapkeepError('snapshot_failed', 'archives need /proc (Linux) to read BACKUP_INCLUDE_PATHS without following links: /proc/self/fd is missing');
    }
  }
}
