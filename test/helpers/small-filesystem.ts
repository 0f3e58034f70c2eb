import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';

/** SmallFilesystem is a tmpfs of a fixed size mounted on a test's directory, to fill a disk for real. */
export interface SmallFilesystem {
  dir: string;
  /** Bytes still free. */
  freeBytes(): number;
  /** Unmounts it (lazily if something still holds a file open); safe to call twice. */
  unmount(): void;
}

/**
 * mountTmpfs mounts a tmpfs of sizeBytes on dir, or returns the reason it cannot (mounting needs
 * root, or CAP_SYS_ADMIN in a container), so a test can say why it was skipped.
 */
export function mountTmpfs(dir: string, sizeBytes: number): SmallFilesystem | { unavailable: string } {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { unavailable: `cannot mount a tmpfs on ${dir}: ${stderr || (error as Error).message}` };
  }
  let mounted = true;
  return {
    dir,
    freeBytes() {
      const stats = statfsSync(dir);
      return stats.bavail * stats.bsize;
    },
    unmount() {
      if (!mounted) return;
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      }
      mounted = false;
    },
  };
}
