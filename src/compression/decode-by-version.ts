import { Transform, type TransformCallback } from 'node:stream';
import { createChunkCoalescer } from './coalesce-chunks.js';
import { createZstdDecompressor } from './zstd.js';

/**
 * createVersionDecoder sits after a CRBU decrypt stream and passes its plaintext on as it is, or
 * through zstd when the envelope's version says it is compressed (3: a database, 4: an archive).
 * The version is only known once the header has arrived, which is before the first plaintext
 * chunk: the choice is made on that chunk. Backpressure is kept both ways. The decompressor is given
 * chunks of at least 1 MiB (coalesce-chunks.ts: small ones made zstd restores 1-3 s per GiB slower).
 */
export function createVersionDecoder(versionOf: () => number | null, compressedVersions: ReadonlySet<number>): Transform {
  /** Where compressed bytes go in (the coalescer), and where plaintext comes out (zstd). */
  let inner: Transform | undefined;
  let output: Transform | undefined;
  let decided = false;
  let flushCallback: TransformCallback | undefined;

  const decoder = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, callback) {
      if (!decided) {
        decided = true;
        const version = versionOf();
        if (version !== null && compressedVersions.has(version)) inner = startInner();
      }
      if (!inner) { callback(null, chunk); return; }
      if (inner.write(chunk)) callback();
      else inner.once('drain', () => callback());
    },
    flush(callback) {
      if (!inner) { callback(); return; }
      flushCallback = callback;
      inner.end();
    },
    read(size) {
      output?.resume();
      Transform.prototype._read.call(this, size);
    },
    destroy(error, callback) {
      inner?.destroy();
      output?.destroy();
      callback(error);
    },
  });

  function startInner(): Transform {
    const gather = createChunkCoalescer();
    const z = createZstdDecompressor();
    output = z;
    // pipe keeps backpressure between the two; errors of either fail the decoder.
    gather.pipe(z);
    gather.on('error', (error: Error) => decoder.destroy(error));
    z.on('data', (data: Buffer) => { if (!decoder.push(data)) z.pause(); });
    z.on('end', () => { const cb = flushCallback; flushCallback = undefined; cb?.(); });
    z.on('error', (error: Error) => decoder.destroy(error));
    return gather;
  }

  return decoder;
}
