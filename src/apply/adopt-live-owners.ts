import { lchown, lstat, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SnapkeepError, coerceError } from '../errors.js';

interface Owner {
  uid: number;
  gid: number;
}

/**
 * adoptLiveOwners gives every path of a restored tree the owner and group of the live path it is
 * about to replace (the same relative path under live), and a path that has no live counterpart
 * the owner of the nearest one above it (at the top: the live path's existing parent directory).
 * An archive records modes, not owners: this way a restored `/etc/myapp` stays `root:myapp` and
 * `/var/lib/myapp` stays `myapp:myapp`. Modes stay as the restore set them (secrets at most 0600).
 * Run before anything is stopped: it touches only the restored tree.
 */
export async function adoptLiveOwners(restored: string, live: string): Promise<void> {
  try {
    await adopt(restored, live, await ownerOf(dirname(live)));
  } catch (error) {
    if (error instanceof SnapkeepError) throw error;
    throw new SnapkeepError('apply_refused', `cannot give ${restored} the owners of ${live} (${coerceError(error).message}): `
      + 'run apply as root or as their owner; nothing was changed', { cause: error });
  }
}

async function adopt(restored: string, live: string | undefined, inherited: Owner): Promise<void> {
  const counterpart = live === undefined ? undefined : await lstat(live).catch(() => undefined);
  const owner = counterpart ? { uid: counterpart.uid, gid: counterpart.gid } : inherited;
  await lchown(restored, owner.uid, owner.gid);
  if (!(await lstat(restored)).isDirectory()) return;
  // Below a live path that is missing or not a directory, nothing has a counterpart.
  const below = counterpart?.isDirectory() ? live : undefined;
  for (const name of await readdir(restored)) await adopt(join(restored, name), below && join(below, name), owner);
}

async function ownerOf(path: string): Promise<Owner> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isDirectory()) throw new SnapkeepError('apply_refused', `${path} is not a directory: create it (with its owner and mode) before applying`);
  return { uid: info.uid, gid: info.gid };
}
