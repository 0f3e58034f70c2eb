import { lstat, readlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { basename, join, posix, relative, sep } from 'node:path';
import { SnapkeepError } from '../errors.js';
import { archivePathOf } from './archive-paths.js';
import { DirectoryHandle, fileIdentity } from './directory-handle.js';
import { createExcludeMatcher } from './exclude-matcher.js';
import type { EntryType, ManifestSource, SkippedEntry } from './manifest.js';
import { errorCode, replaced, unreadable, VANISHED } from './source-errors.js';

/** SourceEntry is one path to archive, as the walk found it (lstat: links are never followed). */
export interface SourceEntry {
  sourcePath: string;
  archivePath: string;
  type: EntryType;
  mode: number;
  mtime: Date;
  linkTarget?: string;
  /** Device and inode as the walk saw them (fileIdentity): staging opens only this very directory. */
  identity: string;
  /** An include path itself: staging opens it by its path; every other entry from its directory's handle. */
  isRoot?: true;
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

const SPECIAL: Array<[(s: BigIntStats) => boolean, string]> = [
  [(s) => s.isSocket(), 'socket'],
  [(s) => s.isFIFO(), 'fifo'],
  [(s) => s.isBlockDevice(), 'block device'],
  [(s) => s.isCharacterDevice(), 'character device'],
];

interface Walk {
  root: string;
  excluded: (absolute: string, relative: string) => boolean;
  protect: readonly ProtectedPath[];
  seen: Set<string>;
  result: CollectedSources;
}

/**
 * collectSources walks BACKUP_INCLUDE_PATHS depth first, directories before their contents, names
 * sorted. Symlinks are recorded as links and never followed; sockets, FIFOs and devices are skipped
 * and listed; BACKUP_EXCLUDE globs and protected paths are left out. A missing include path or an
 * unreadable directory fails the backup with its path: an archive never has a silent gap.
 *
 * Directories are read through handles (directory-handle.ts), each checked to be the directory its
 * lstat saw, so a directory swapped for a link while the walk runs is never listed through the
 * link; every entry carries its identity for staging to check again.
 */
export async function collectSources(includePaths: readonly string[], options: { exclude: readonly string[]; protect: readonly ProtectedPath[] }): Promise<CollectedSources> {
  const excluded = createExcludeMatcher(options.exclude);
  const result: CollectedSources = { sources: [], entries: [], skipped: [] };
  const seen = new Set<string>();
  for (const root of includePaths) {
    const rootInfo = await lstatRoot(root);
    const rootType = typeOf(rootInfo);
    if (rootType) result.sources.push({ path: root, archivePath: archivePathOf(root), type: rootType });
    await visit({ root, excluded, protect: options.protect, seen, result }, root, rootInfo, null);
  }
  return result;
}

/** visit records one path and, for a directory, everything under it; parent is null for an include path. */
async function visit(walk: Walk, path: string, info: BigIntStats, parent: DirectoryHandle | null): Promise<void> {
  const archivePath = archivePathOf(path);
  // Overlapping include paths (/etc/app and /etc/app/tls) archive each path once.
  if (walk.seen.has(archivePath)) return;
  walk.seen.add(archivePath);
  const guard = walk.protect.find((p) => isProtected(path, p));
  if (guard) {
    walk.result.skipped.push({ path, reason: guard.reason });
    return;
  }
  const type = typeOf(info);
  if (!type) {
    walk.result.skipped.push({ path, reason: SPECIAL.find(([test]) => test(info))?.[1] ?? 'unsupported file type' });
    return;
  }
  const where = parent ? parent.at(basename(path)) : path;
  const entry: SourceEntry = { sourcePath: path, archivePath, type, mode: Number(info.mode & 0o7777n), mtime: info.mtime, identity: fileIdentity(info) };
  if (!parent) entry.isRoot = true;
  if (type === 'symlink') {
    const target = await readlink(where).catch((error: unknown) => {
      if (errorCode(error) === 'ENOENT') return null;
      // EINVAL: no longer a link since its lstat.
      throw errorCode(error) === 'EINVAL' ? replaced(path) : unreadable(path, error);
    });
    if (target === null) walk.result.skipped.push({ path, reason: VANISHED });
    else walk.result.entries.push({ ...entry, linkTarget: target });
    return;
  }
  if (type !== 'directory') {
    walk.result.entries.push(entry);
    return;
  }
  const dir = await DirectoryHandle.open(where, path, entry.identity);
  if (!dir) {
    walk.result.skipped.push({ path, reason: VANISHED });
    return;
  }
  walk.result.entries.push(entry);
  try {
    for (const name of (await dir.list()).sort()) {
      const child = join(path, name);
      if (walk.excluded(child, relative(walk.root, child).split(sep).join(posix.sep))) continue;
      const childInfo = await lstatChild(dir.at(name), child);
      if (childInfo) await visit(walk, child, childInfo, dir);
      else walk.result.skipped.push({ path: child, reason: VANISHED });
    }
  } finally {
    await dir.close();
  }
}

function isProtected(path: string, guard: ProtectedPath): boolean {
  if (guard.scope === 'prefix') return path.startsWith(guard.path);
  return path === guard.path || (guard.scope === 'subtree' && path.startsWith(`${guard.path}${sep}`));
}

function typeOf(info: BigIntStats): EntryType | null {
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'directory';
  if (info.isSymbolicLink()) return 'symlink';
  return null;
}

/** lstatRoot: an include path must exist; the operator chose it, so its ancestors are taken as they are. */
async function lstatRoot(path: string): Promise<BigIntStats> {
  try {
    return await lstat(path, { bigint: true });
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SnapkeepError('snapshot_failed', `BACKUP_INCLUDE_PATHS: ${path} does not exist`);
    throw unreadable(path, error);
  }
}

/** lstatChild: null when a name readdir found vanished since. */
async function lstatChild(where: string, path: string): Promise<BigIntStats | null> {
  try {
    return await lstat(where, { bigint: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw unreadable(path, error);
  }
}
