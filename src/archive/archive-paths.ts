import { basename, extname, isAbsolute, posix, sep } from 'node:path';

/** MANIFEST_NAME is the archive's first entry. */
export const MANIFEST_NAME = 'manifest.json';
/** DATABASE_DIR holds the database snapshot inside an archive. */
export const DATABASE_DIR = 'database';
/** FILES_DIR holds the included paths, each under its absolute path: `/etc/app` is `files/etc/app`. */
export const FILES_DIR = 'files';

/** databaseArchivePath is where the snapshot of DB_PATH goes: `database/<name>.sqlite`. */
export function databaseArchivePath(dbPath: string): string {
  const name = basename(dbPath, extname(dbPath)) || 'database';
  return `${DATABASE_DIR}/${name}.sqlite`;
}

/**
 * archivePathOf maps an absolute source path to its archive path. Keeping the whole absolute
 * path means two included directories with the same name never collide, and a restore shows at a
 * glance where each file came from.
 */
export function archivePathOf(absolutePath: string): string {
  if (!isAbsolute(absolutePath)) throw new Error(`not an absolute path: ${absolutePath}`);
  const parts = absolutePath.split(sep).filter((p) => p !== '');
  return posix.join(FILES_DIR, ...parts);
}

/**
 * isSafeArchivePath says whether a name read from an archive may be written under a restore
 * directory: relative, normalised, no `..`, no NUL, and inside `files/` or `database/`.
 */
export function isSafeArchivePath(path: string): boolean {
  if (path === '' || path.includes('\0') || path.includes('\\') || path.startsWith('/')) return false;
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return false;
  return parts.length >= 2 && (parts[0] === FILES_DIR || parts[0] === DATABASE_DIR);
}

/** formatMode writes permission bits as four octal digits (`0640`), as people read them. */
export const formatMode = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** parseMode reads formatMode's output. */
export const parseMode = (text: string): number => Number.parseInt(text, 8);
