import { basename, extname, isAbsolute, posix, sep } from 'node:path';

/** MANIFEST_NAME is the archive's first entry. */
export const MANIFEST_NAME = 'manifest.json';
/** DATABASE_DIR holds the database snapshot inside an archive. */
export const DATABASE_DIR = 'database';
/** FILES_DIR holds the included paths, each under its absolute path: `/etc/app` is `files/etc/app`. */
export const FILES_DIR = 'files';
/** STREAMS_DIR holds each stream's stdout, one file a stream: `streams/{name}`. */
export const STREAMS_DIR = 'streams';
/** STREAM_NAME is what a stream may be called (as SNAPKEEP_CONFIG allows): one path segment, never `.` or `..`. */
export const STREAM_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** databaseArchivePath is where the snapshot of DB_PATH goes: `database/<name>.sqlite`. */
export function databaseArchivePath(dbPath: string): string {
  const name = basename(dbPath, extname(dbPath)) || 'database';
  return `${DATABASE_DIR}/${name}.sqlite`;
}

/** streamArchivePath is where a stream's stdout goes: `streams/{name}`; a name that is not STREAM_NAME is refused. */
export function streamArchivePath(name: string): string {
  if (!STREAM_NAME.test(name)) throw new Error(`not a stream name: ${JSON.stringify(name)}`);
  return `${STREAMS_DIR}/${name}`;
}

/** isStreamArchivePath says whether an archive path is a stream's member, `streams/{name}`. */
export function isStreamArchivePath(path: string): boolean {
  const parts = path.split('/');
  return parts.length === 2 && parts[0] === STREAMS_DIR && STREAM_NAME.test(parts[1]!);
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
 * directory: relative, normalised, no `..`, no NUL, and inside `files/` or `database/`, or a
 * stream's `streams/{name}` (nothing deeper: a stream is one file).
 */
export function isSafeArchivePath(path: string): boolean {
  if (path === '' || path.includes('\0') || path.includes('\\') || path.startsWith('/')) return false;
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return false;
  if (parts[0] === STREAMS_DIR) return isStreamArchivePath(path);
  return parts.length >= 2 && (parts[0] === FILES_DIR || parts[0] === DATABASE_DIR);
}

/** formatMode writes permission bits as four octal digits (`0640`), as people read them. */
export const formatMode = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** parseMode reads formatMode's output. */
export const parseMode = (text: string): number => Number.parseInt(text, 8);
