import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sha256File } from './broken-backups.js';
import { describeTree, type TreeEntry } from './file-tree.js';
import { createSampleDatabase } from './sample-database.js';

/** NOBODY is the uid and gid of nobody/nogroup: the application runs as another user than snapkeep (root in the suite). */
export const NOBODY = 65534;

/** createAppDatabase makes `{dir}/live/app.db`, alone in its directory: a WAL sample database of `rows` notes, owned by nobody, mode 0640. */
export function createAppDatabase(dir: string, rows: number): string {
  mkdirSync(join(dir, 'live'));
  const dbPath = join(dir, 'live', 'app.db');
  createSampleDatabase(dbPath, rows);
  chownSync(dbPath, NOBODY, NOBODY);
  chmodSync(dbPath, 0o640);
  return dbPath;
}

/** integrityOf is `PRAGMA integrity_check`'s answer, on a read-only connection. */
export function integrityOf(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

/** withoutName is a listing without one name (a restore a test expects beside the live files). */
export const withoutName = <T>(files: Record<string, T>, name: string): Record<string, T> =>
  Object.fromEntries(Object.entries(files).filter(([n]) => !n.includes(name)));

/** FileState is what "exactly as it was" means for one live file: content, owner, mode and inode. */
export interface FileState {
  sha256: string;
  uid: number;
  gid: number;
  mode: number;
  ino: number;
}

/** filesBeside maps every regular file in dir to its state: a database directory, compared before and after. */
export function filesBeside(dir: string): Record<string, FileState> {
  const out: Record<string, FileState> = {};
  for (const name of readdirSync(dir).sort()) {
    const info = lstatSync(join(dir, name));
    if (info.isFile()) out[name] = { sha256: sha256File(join(dir, name)), uid: info.uid, gid: info.gid, mode: info.mode & 0o7777, ino: info.ino };
  }
  return out;
}

/** ownedTree is describeTree with every path's owner and group, the root itself as ''. */
export function ownedTree(root: string): Record<string, TreeEntry & { uid: number; gid: number }> {
  const out: Record<string, TreeEntry & { uid: number; gid: number }> = {};
  const rootInfo = lstatSync(root);
  out[''] = { type: 'directory', mode: rootInfo.mode & 0o7777, uid: rootInfo.uid, gid: rootInfo.gid };
  for (const [path, entry] of Object.entries(describeTree(root))) {
    const info = lstatSync(join(root, path));
    out[path] = { ...entry, uid: info.uid, gid: info.gid };
  }
  return out;
}
