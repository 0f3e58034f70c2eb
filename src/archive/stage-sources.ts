import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { SourceEntry } from './collect-sources.js';
import { DirectoryChain } from './directory-chain.js';
import type { SkippedEntry } from './manifest.js';
import { openFailed, replaced, unreadable, VANISHED } from './source-errors.js';
import { writeAt } from './write-at.js';

/** StagedEntry is a source entry after staging: a file's bytes sit in the staging file at offset. */
export interface StagedEntry extends SourceEntry {
  size: number;
  sha256?: string;
  offset?: number;
}

/** StagedSources is every entry ready for the archive, and the files that vanished meanwhile. */
export interface StagedSources {
  entries: StagedEntry[];
  skipped: SkippedEntry[];
  bytes: number;
}

const CHUNK = 1024 * 1024;
// O_NOFOLLOW: a file swapped for a symlink since the walk is not followed. O_NONBLOCK: one swapped
// for a FIFO does not hang the open.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/**
 * stageSources copies every file's bytes once into stagingPath (which it creates, mode 0600),
 * hashing them on the way: the manifest must come first in the archive, but a file's hash is
 * known only once it is read, and the bytes archived must be exactly the bytes hashed, even if the
 * file changes afterwards. Memory stays at one 1 MiB buffer whatever the file sizes.
 *
 * Each file is opened from its directory's handle, never following a link, and every directory
 * from its parent's, checked to be the one the walk saw (device and inode): a directory anywhere on
 * the path swapped for a link since the walk fails the backup naming it, and is never followed.
 */
export async function stageSources(entries: readonly SourceEntry[], stagingPath: string, onProgress?: (bytes: number) => void): Promise<StagedSources> {
  const staging = await open(stagingPath, 'wx', 0o600);
  const buffer = Buffer.allocUnsafe(CHUNK);
  const chain = new DirectoryChain();
  const staged: StagedEntry[] = [];
  const skipped: SkippedEntry[] = [];
  let offset = 0;
  try {
    for (const entry of entries) {
      const where = await chain.whereIs(entry);
      if (where === null) {
        skipped.push({ path: entry.sourcePath, reason: VANISHED });
        continue;
      }
      if (entry.type === 'directory') {
        if (await chain.enter(entry, where)) staged.push({ ...entry, size: 0 });
        else skipped.push({ path: entry.sourcePath, reason: VANISHED });
        continue;
      }
      if (entry.type !== 'file') {
        staged.push({ ...entry, size: 0 });
        continue;
      }
      const copied = await copyFile(entry, where, staging, offset, buffer);
      if (!copied) {
        skipped.push({ path: entry.sourcePath, reason: VANISHED });
        continue;
      }
      staged.push({ ...entry, ...copied, offset });
      offset += copied.size;
      onProgress?.(offset);
    }
    await staging.sync();
  } finally {
    await chain.close();
    await staging.close();
  }
  return { entries: staged, skipped, bytes: offset };
}

async function copyFile(entry: SourceEntry, where: string, staging: FileHandle, offset: number, buffer: Buffer): Promise<Pick<StagedEntry, 'size' | 'sha256' | 'mode' | 'mtime'> | null> {
  const source = await open(where, OPEN_FLAGS).catch((error: unknown) => openFailed(error, entry.sourcePath));
  if (!source) return null;
  try {
    const info = await source.stat({ bigint: true });
    // A file replaced by rename since the walk (how applications write atomically) is read as it is
    // now: it was opened inside the very directory the walk saw, so it cannot be anything else's.
    if (!info.isFile()) throw replaced(entry.sourcePath);
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const { bytesRead } = await source.read(buffer, 0, buffer.length, null).catch((error: unknown) => { throw unreadable(entry.sourcePath, error); });
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      await writeAt(staging, chunk, offset + size);
      size += bytesRead;
    }
    // The mode and time of the bytes read, not of the earlier walk.
    return { size, sha256: hash.digest('hex'), mode: Number(info.mode & 0o7777n), mtime: info.mtime };
  } finally {
    await source.close();
  }
}
