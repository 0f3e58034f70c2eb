import { lstat, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { SnapkeepError } from '../errors.js';
import { archivePathOf } from './archive-paths.js';
import { createExcludeMatcher } from './exclude-matcher.js';
import type { EntryType, ManifestSource, SkippedEntry } from './manifest.js';

/** SourceEntry is one path to archive, as the walk found it (lstat: links are never followed). */
export interface SourceEntry {
  sourcePath: string;
  archivePath: string;
  type: EntryType;
  mode: number;
  mtime: Date;
  linkTarget?: string;
}

/** ProtectedPath is a path never archived from the include paths: the live database, snapkeep's own files. */
export interface ProtectedPath {
  path: string;
  reason: string;
  /** `path`: that path only; `subtree`: it and everything under it; `prefix`: every path starting with it. */
  scope: 'path' | 'subtree' | 'prefix';
}

/** CollectedSources is the plan of an archive: what to read, what was left out and why. */
export interface CollectedSources {
  sources: ManifestSource[];
  entries: SourceEntry[];
  skipped: SkippedEntry[];
}

const SPECIAL: Array<[(s: Stats) => boolean, string]> = [
  [(s) => s.isSocket(), 'socket'],
  [(s) => s.isFIFO(), 'fifo'],
  [(s) => s.isBlockDevice(), 'block device'],
  [(s) => s.isCharacterDevice(), 'character device'],
];

/**
 * collectSources walks BACKUP_INCLUDE_PATHS depth first, directories before their contents, names
 * sorted. Symlinks are recorded as links and never followed; sockets, FIFOs and devices are skipped
 * and listed; BACKUP_EXCLUDE globs and protected paths are left out. A missing include path or an
 * unreadable directory fails the backup with its path: an archive never has a silent gap.
 */
export async function collectSources(includePaths: readonly string[], options: { exclude: readonly string[]; protect: readonly ProtectedPath[] }): Promise<CollectedSources> {
  const excluded = createExcludeMatcher(options.exclude);
  const result: CollectedSources = { sources: [], entries: [], skipped: [] };
  const seen = new Set<string>();
  for (const root of includePaths) {
    const rootInfo = await lstatOrFail(root, true);
    if (!rootInfo) continue;
    const rootType = typeOf(rootInfo);
    if (rootType) result.sources.push({ path: root, archivePath: archivePathOf(root), type: rootType });
    const stack: Array<{ path: string; info: Stats }> = [{ path: root, info: rootInfo }];
    while (stack.length > 0) {
      const { path, info } = stack.pop()!;
      const archivePath = archivePathOf(path);
      // Overlapping include paths (/etc/app and /etc/app/tls) archive each path once.
      if (seen.has(archivePath)) continue;
      seen.add(archivePath);
      const guard = options.protect.find((p) => isProtected(path, p));
      if (guard) {
        result.skipped.push({ path, reason: guard.reason });
        continue;
      }
      const type = typeOf(info);
      if (!type) {
        result.skipped.push({ path, reason: SPECIAL.find(([test]) => test(info))?.[1] ?? 'unsupported file type' });
        continue;
      }
      const entry: SourceEntry = { sourcePath: path, archivePath, type, mode: info.mode & 0o7777, mtime: info.mtime };
      if (type === 'symlink') entry.linkTarget = await readlink(path).catch((error: unknown) => { throw unreadable(path, error); });
      result.entries.push(entry);
      if (type !== 'directory') continue;
      const children = await readdir(path).catch((error: unknown) => { throw unreadable(path, error); });
      // Pushed in reverse so that they pop in name order.
      for (const name of children.sort().reverse()) {
        const child = join(path, name);
        if (excluded(child, relative(root, child).split(sep).join(posix.sep))) continue;
        const childInfo = await lstatOrFail(child, false);
        if (childInfo) stack.push({ path: child, info: childInfo });
        else result.skipped.push({ path: child, reason: 'vanished during the backup' });
      }
    }
  }
  return result;
}

function isProtected(path: string, guard: ProtectedPath): boolean {
  if (guard.scope === 'prefix') return path.startsWith(guard.path);
  return path === guard.path || (guard.scope === 'subtree' && path.startsWith(`${guard.path}${sep}`));
}

function typeOf(info: Stats): EntryType | null {
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'directory';
  if (info.isSymbolicLink()) return 'symlink';
  return null;
}

/** lstatOrFail: null when a path found by readdir vanished since; a missing include path fails. */
async function lstatOrFail(path: string, isRoot: boolean): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (isRoot && (code === 'ENOENT' || code === 'ENOTDIR')) {
      throw new SnapkeepError('snapshot_failed', `BACKUP_INCLUDE_PATHS: ${path} does not exist`);
    }
    if (code === 'ENOENT') return null;
    throw unreadable(path, error);
  }
}

/** unreadable names the path and the reason; permissions do not fix themselves, so no retry. */
export function unreadable(path: string, error: unknown): SnapkeepError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code;
  const retryable = !(code === 'EACCES' || code === 'EPERM' || code === 'ELOOP');
  return new SnapkeepError('snapshot_failed', `cannot read ${path}: ${reason}`, { retryable, cause: error });
}
