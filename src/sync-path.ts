import { open } from 'node:fs/promises';

/** syncPath flushes a file's data or a directory's entries, so they survive a power cut. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
