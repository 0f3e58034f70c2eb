import { lstat, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatMode } from '../archive/archive-paths.js';
import { SnapkeepError } from '../errors.js';
import type { AppliedMove } from '../queue/job-types.js';
import type { MoveLog } from './move-log.js';

/**
 * The files SQLite keeps beside a database: a write-ahead log and its index (WAL mode), or a hot
 * rollback journal. They belong to the database file they sit beside under its own name (`X-wal`
 * pairs with `X`), so they move with it: left behind, they would be replayed into a restored file.
 */
export const SIDECARS = ['-wal', '-shm', '-journal'] as const;

/** databaseFiles is a database and its possible sidecars, the database first. */
export const databaseFiles = (path: string): string[] => [path, ...SIDECARS.map((suffix) => `${path}${suffix}`)];

/**
 * moveDatabase moves a database file and whichever of its sidecars exist from one name to another
 * (`X`, `X-wal` → `Y`, `Y-wal`), the file first. A database that is not there (none yet, or moved
 * away with a directory an archive replaced) is no error: only what exists moves.
 */
export async function moveDatabase(log: MoveLog, from: string, to: string, role: AppliedMove['role']): Promise<void> {
  for (const suffix of ['', ...SIDECARS]) await log.moveIfPresent(`${from}${suffix}`, `${to}${suffix}`, role);
}

/** Ownership is what a placed database gets: owner, group and permission bits. */
export interface Ownership {
  uid: number;
  gid: number;
  mode: number;
}

/**
 * liveOwnership is the owner, group and mode the restored database takes: the live file's, or,
 * when there is none, its directory's owner and group with mode 0600. A DB_PATH that is a
 * symbolic link is refused: replacing the link with a file would silently move the database.
 */
export async function liveOwnership(dbPath: string): Promise<Ownership & { live: boolean }> {
  const info = await lstat(dbPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (info?.isSymbolicLink()) throw new SnapkeepError('apply_refused', `${dbPath} is a symbolic link: set DB_PATH to the file it points to`);
  if (info && !info.isFile()) throw new SnapkeepError('apply_refused', `${dbPath} is not a regular file`);
  if (info) return { uid: info.uid, gid: info.gid, mode: info.mode & 0o7777, live: true };
  const parent = await lstat(dirname(dbPath));
  return { uid: parent.uid, gid: parent.gid, mode: 0o600, live: false };
}

/**
 * headerJournalMode reads whether a database file opens in WAL mode from its header (bytes 18
 * and 19 are 2), without opening it with SQLite: opening the live database would create -wal and
 * -shm files as snapkeep's user beside it. Any other mode is a connection's choice: `delete`.
 */
export async function headerJournalMode(path: string): Promise<'wal' | 'delete'> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(20), 0, 20, 0);
    return bytesRead === 20 && buffer[18] === 2 && buffer[19] === 2 ? 'wal' : 'delete';
  } finally {
    await handle.close();
  }
}

/** formatOwnership is `uid 65534, gid 65534, mode 0640`, for messages. */
export const formatOwnership = (o: Ownership): string => `uid ${o.uid}, gid ${o.gid}, mode ${formatMode(o.mode)}`;
