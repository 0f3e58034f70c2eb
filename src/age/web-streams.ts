import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';

/**
 * toWebStream is a Web ReadableStream that pulls from a Node Readable one chunk at a time. Node's
 * own Readable.toWeb counts its high-water mark in chunks, not bytes, so a fast file read would
 * queue far ahead of a slow consumer (age runs at about 40 MB/s); pulling keeps memory flat.
 */
export function toWebStream(source: Readable): ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (error) {
        controller.error(error);
      }
    },
    cancel() {
      // Without the reason: the source did not fail, its consumer gave up.
      source.destroy();
    },
  }, { highWaterMark: 1 });
}

/** fromWebStream is a Node Readable of a Web ReadableStream's bytes, with its backpressure. */
export function fromWebStream(stream: ReadableStream<Uint8Array>): Readable {
  // The global and node:stream/web ReadableStream types differ only in their declarations.
  return Readable.fromWeb(stream as unknown as NodeWebReadableStream<Uint8Array>, { highWaterMark: 1024 * 1024 });
}
