import { randomBytes } from 'node:crypto';
import { cp, lchown, lstat, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * copyAcross puts a copy of from (a file or a tree) at to when the two are on different
 * filesystems, where rename() cannot: copied into a hidden sibling of to (modes, times, symlinks
 * as they are, owners copied after, every file flushed), then renamed into place, so to never
 * holds half a copy. from is left as it was.
 */
export async function copyAcross(from: string, to: string): Promise<void> {
  const temp = join(dirname(to), `.${basename(to)}.apply-${randomBytes(4).toString('hex')}`);
  try {
    await cp(from, temp, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: true, force: false });
    await copyOwnersAndFlush(from, temp);
    await rename(temp, to);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

/** copyOwnersAndFlush gives every path under copy the owner of its original under source, and flushes files. */
async function copyOwnersAndFlush(source: string, copy: string): Promise<void> {
  const info = await lstat(source);
  await lchown(copy, info.uid, info.gid);
  if (info.isFile()) {
    const handle = await open(copy, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } else if (info.isDirectory()) {
    for (const name of await readdir(source)) await copyOwnersAndFlush(join(source, name), join(copy, name));
  }
}
