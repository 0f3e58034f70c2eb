import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES, createParallelZstdCompressor } from '../../src/compression/parallel-zstd.js';
import { createZstdDecompressor } from '../../src/compression/zstd.js';

/** rows yields `mib` chunks of text rows, as a SQLite file of text compresses. */
function* rows(mib: number): Generator<Buffer> {
  for (let i = 0; i < mib; i++) {
    let text = '';
    for (let j = 0; j < 16_384; j++) text += `row ${i * 16_384 + j} customer ${j % 997}\n`;
    yield Buffer.from(text);
  }
}

describe('zstd streams', () => {
  // Node's zstd stream with nbWorkers >= 1 threw "stream.push() after EOF" or cut the frame short on
  // inputs of this size (nodejs/node#59899): a backup that uploads fine and never restores. The
  // parallel compressor must not do the same in its own way (a frame lost, out of order, or the last
  // block dropped): these tens of MiB are several frames, compressed a few at once.
  it('round-trips tens of MiB whole, byte for byte', async () => {
    const sent = createHash('sha256');
    let sentBytes = 0;
    const frame: Buffer[] = [];
    const source = Readable.from((function* () { for (const chunk of rows(64)) { sent.update(chunk); sentBytes += chunk.length; yield chunk; } })());
    await pipeline(source, createParallelZstdCompressor(3), new Writable({ write(chunk: Buffer, _e, cb) { frame.push(chunk); cb(); } }));
    const back = createHash('sha256');
    let backBytes = 0;
    await pipeline(Readable.from(frame), createZstdDecompressor(), new Writable({ write(chunk: Buffer, _e, cb) { back.update(chunk); backBytes += chunk.length; cb(); } }));
    expect(backBytes).toBe(sentBytes);
    expect(back.digest('hex')).toBe(sent.digest('hex'));
    expect(sentBytes).toBeGreaterThan(4 * BLOCK_BYTES);
    expect(Buffer.concat(frame).length * 5).toBeLessThan(sentBytes);
  });
});
