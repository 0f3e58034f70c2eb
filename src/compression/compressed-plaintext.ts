import { createReadStream } from 'node:fs';
import { pipeline, Transform, type Readable } from 'node:stream';
import { createParallelZstdCompressor } from './parallel-zstd.js';

/**
 * compressedFile is a zstd stream of a file (independent frames, compressed several at once: see
 * parallel-zstd.ts), read 1 MiB at a time, for the encryption that follows; onRead counts the
 * file's bytes as they go in (progress: the compressed size is not known ahead). A read or
 * compression error destroys the returned stream (and so fails the upload).
 */
export function compressedFile(path: string, level: number, onRead: (bytes: number) => void): Readable {
  return compressed(createReadStream(path, { highWaterMark: 1024 * 1024 }), level, onRead);
}

/** compressed is the same for any plaintext stream (an archive's tar). */
export function compressed(plaintext: Readable, level: number, onRead: (bytes: number) => void = () => undefined): Readable {
  let total = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      onRead(total);
      callback(null, chunk);
    },
  });
  return pipeline(plaintext, counter, createParallelZstdCompressor(level), () => undefined);
}
