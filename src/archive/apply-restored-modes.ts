import { chmod, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnyArchiveManifest } from './manifest.js';
import { restoredMode } from './secret-paths.js';

/**
 * applyRestoredModes gives restored files and directories their archived modes (clamped for
 * secrets, see restoredMode) and times. Directories go last and deepest first, so that a read-only
 * directory neither blocks the work inside it nor gets its time bumped by it. Symlinks keep their
 * own times (set when created) and have no mode of their own on Linux.
 */
export async function applyRestoredModes(dir: string, manifest: AnyArchiveManifest): Promise<void> {
  for (const entry of manifest.entries) {
    if (entry.type !== 'file') continue;
    const path = join(dir, entry.path);
    await chmod(path, restoredMode(entry, manifest.database?.path));
    await utimes(path, new Date(entry.mtime), new Date(entry.mtime));
  }
  const directories = manifest.entries.filter((e) => e.type === 'directory').sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  for (const entry of directories) {
    const path = join(dir, entry.path);
    await chmod(path, restoredMode(entry, manifest.database?.path));
    await utimes(path, new Date(entry.mtime), new Date(entry.mtime));
  }
}
