import { basename, dirname, sep } from 'node:path';
import type { SourceEntry } from './collect-sources.js';
import { DirectoryHandle } from './directory-handle.js';

/**
 * DirectoryChain holds open the directories above the entry being staged. Entries come in walk
 * order (an include path, then each directory before its contents), so the chain is always the
 * current entry's ancestors, and every entry is opened from its own directory's handle, never by
 * a path that a swapped link could redirect.
 */
export class DirectoryChain {
  private readonly chain: Array<{ path: string; dir: DirectoryHandle }> = [];

  /**
   * whereIs is the path to open an entry by: an include path by its own path, anything else
   * inside its directory's handle; null when that directory vanished (staging skipped it).
   */
  async whereIs(entry: SourceEntry): Promise<string | null> {
    if (entry.isRoot) {
      await this.close();
      return entry.sourcePath;
    }
    const parent = dirname(entry.sourcePath);
    for (let top = this.chain.at(-1); top && !isWithin(parent, top.path); top = this.chain.at(-1)) {
      this.chain.pop();
      await top.dir.close();
    }
    const top = this.chain.at(-1);
    return top && top.path === parent ? top.dir.at(basename(entry.sourcePath)) : null;
  }

  /** enter opens a directory entry at `where`, checked against the walk, and holds it for its contents; false when it vanished. */
  async enter(entry: SourceEntry, where: string): Promise<boolean> {
    const dir = await DirectoryHandle.open(where, entry.sourcePath, entry.identity);
    if (dir) this.chain.push({ path: entry.sourcePath, dir });
    return dir !== null;
  }

  /** close closes every handle still held. */
  async close(): Promise<void> {
    for (let top = this.chain.pop(); top; top = this.chain.pop()) await top.dir.close();
  }
}

function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}
