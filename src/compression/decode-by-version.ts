import { Transform, type TransformCallback } from 'node:stream';
import { createZstdDecompressor } from './zstd.js';

/**
 * createVersionDecoder sits after a CRBU decrypt stream and passes its plaintext on as it is, or
 * through zstd when the envelope's version says it is compressed (3: a database, 4: an archive).
 * The version is only known once the header has arrived, which is before the first plaintext
 * chunk: the choice is made on that chunk. Backpressure is kept both ways.
 */
export function createVersionDecoder(versionOf: () => number | null, compressedVersions: ReadonlySet<number>): Transform {
  let inner: Transform | undefined;
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
      inner?.resume();
      Transform.prototype._read.call(this, size);
    },
    destroy(error, callback) {
      inner?.destroy();
      callback(error);
    },
  });

  function startInner(): Transform {
    const z = createZstdDecompressor();
    z.on('data', (data: Buffer) => { if (!decoder.push(data)) z.pause(); });
    z.on('end', () => { const cb = flushCallback; flushCallback = undefined; cb?.(); });
    z.on('error', (error: Error) => decoder.destroy(error));
    return z;
  }

  return decoder;
}
