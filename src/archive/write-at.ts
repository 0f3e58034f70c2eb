import type { FileHandle } from 'node:fs/promises';

/** writeAt writes all of chunk at position: a single write may take only part of it. */
export async function writeAt(file: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await file.write(chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}
