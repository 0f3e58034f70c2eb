import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES, createParallelZstdCompressor, zstdFrame, type ParallelZstdOptions } from '../../src/compression/parallel-zstd.js';
import { createZstdDecompressor, ZSTD_MAGIC } from '../../src/compression/zstd.js';
import { ZstdFrameStreams } from '../../src/compression/zstd-frame-streams.js';

/** text is `bytes` of log-like lines: compresses as a database of text does. */
function text(bytes: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i++) {
    const line = `2026-12-05T04:${String(i % 60).padStart(2, '0')} GET /api/items/${i * 7919 % 100_003} 200 customer ${i % 997}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

/** piecesOf cuts data into chunks of the given sizes in turn (odd sizes: blocks never line up). */
function piecesOf(data: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    pieces.push(data.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

async function compress(pieces: Buffer[], level: number, options: ParallelZstdOptions = {}): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), createParallelZstdCompressor(level, options), new Writable({
    write(chunk: Buffer, _e, cb) { out.push(chunk); cb(); },
  }));
  return Buffer.concat(out);
}

/** zstdCli is what `zstd -d` makes of a stream (the tool a restore by hand uses). */
function zstdCli(stream: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-d', '-c'], { input: stream, maxBuffer: 512 * 1024 * 1024 });
}

async function zstdNodeStream(stream: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([stream]), createZstdDecompressor(), new Writable({ write(chunk: Buffer, _e, cb) { out.push(chunk); cb(); } }));
  return Buffer.concat(out);
}

describe('parallel zstd compressor (independent frames)', () => {
  const small = 64 * 1024;
  const cases: Array<[string, Buffer, number[], number]> = [
    ['empty input', Buffer.alloc(0), [1], small],
    ['1 byte', Buffer.from('x'), [1], small],
    ['exactly one block', text(small), [small], small],
    ['one block and 1 byte', text(small + 1), [small + 1], small],
    ['many blocks of text, odd chunks', text(37 * small + 123), [1, 4093, 65_537, 333, 200_003], small],
    ['many blocks of random bytes, odd chunks', randomBytes(9 * small + 7), [7919, 1, 131_071], small],
    ['exactly one default block', text(BLOCK_BYTES), [1024 * 1024], BLOCK_BYTES],
    ['a default block and 1 byte', text(BLOCK_BYTES + 1), [1024 * 1024 + 3], BLOCK_BYTES],
  ];

  it.each(cases)('round-trips %s through zlib, the zstd stream decoder and the zstd CLI', async (_name, data, sizes, blockBytes) => {
    const stream = await compress(piecesOf(data, sizes), 3, { blockBytes, blocksInFlight: 3 });
    // Always at least one frame: a restore checks the magic number before anything else.
    expect(stream.subarray(0, 4)).toEqual(ZSTD_MAGIC);
    expect(zstdDecompressSync(stream).equals(data)).toBe(true);
    expect((await zstdNodeStream(stream)).equals(data)).toBe(true);
    expect(zstdCli(stream).equals(data)).toBe(true);
  });

  it('makes one frame per block (the CLI counts them)', async () => {
    const data = text(5 * small + 1);
    const stream = await compress([data], 3, { blockBytes: small, blocksInFlight: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'parallel-zstd-'));
    try {
      writeFileSync(join(dir, 'out.zst'), stream);
      // `zstd -l` reads only files, not standard input.
      const listed = execFileSync('zstd', ['-l', '-v', join(dir, 'out.zst')], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      expect(listed).toMatch(/# Zstandard Frames: 6\b/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reuses its zstd streams for many frames, each whole on its own, and refuses work once closed', async () => {
    const streams = new ZstdFrameStreams(3, 128 * 1024);
    const blocks = [text(1000), Buffer.alloc(0), randomBytes(70_000), text(small), Buffer.from('y')];
    const frames: Buffer[] = [];
    for (const block of blocks) frames.push(await streams.frame(block));
    const [a, b] = await Promise.all([streams.frame(text(small)), streams.frame(randomBytes(small))]);
    streams.close();
    // Each frame decodes alone: no frame leans on an earlier one's history.
    blocks.forEach((block, i) => expect(zstdDecompressSync(frames[i]!).equals(block)).toBe(true));
    expect(zstdDecompressSync(a!).equals(text(small))).toBe(true);
    expect(zstdDecompressSync(b!).length).toBe(small);
    await expect(streams.frame(text(10))).rejects.toThrow(/closed/);
  });

  it('keeps input order when a later block finishes first', async () => {
    const finished: number[] = [];
    let started = 0;
    const slowFirst = async (block: Buffer, level: number): Promise<Buffer> => {
      const index = started++;
      if (index === 0) await sleep(150);
      const frame = await zstdFrame(block, level);
      finished.push(index);
      return frame;
    };
    const data = text(6 * small);
    const stream = await compress(piecesOf(data, [10_000]), 3, { blockBytes: small, blocksInFlight: 4, compressBlock: slowFirst });
    expect(finished[0]).not.toBe(0);
    expect(finished.indexOf(0)).toBeGreaterThan(0);
    expect(zstdDecompressSync(stream).equals(data)).toBe(true);
  });

  it('keeps input order with real timing: an incompressible first block and trivial ones after', async () => {
    const block = 1024 * 1024;
    const data = Buffer.concat([randomBytes(block), Buffer.alloc(3 * block, 'a')]);
    const stream = await compress(piecesOf(data, [256 * 1024]), 19, { blockBytes: block, blocksInFlight: 4 });
    expect(zstdDecompressSync(stream).equals(data)).toBe(true);
    expect(zstdCli(stream).equals(data)).toBe(true);
  });

  it('fails the stream when one block fails, and nothing hangs', async () => {
    let started = 0;
    const failThird = async (block: Buffer, level: number): Promise<Buffer> => {
      const index = started++;
      await sleep(index === 2 ? 10 : 50);
      if (index === 2) throw new Error('block 2 failed');
      return zstdFrame(block, level);
    };
    const source = Readable.from(piecesOf(text(40 * small), [30_000]));
    const failing = pipeline(source, createParallelZstdCompressor(3, { blockBytes: small, blocksInFlight: 3, compressBlock: failThird }), new Writable({
      write(_chunk: Buffer, _e, cb) { cb(); },
    }));
    await expect(failing).rejects.toThrow('block 2 failed');
    expect(source.destroyed).toBe(true);
  });

  it('fails the stream when the last block fails while the writer waits for the end', async () => {
    const failing = compress([text(small + 5)], 3, {
      blockBytes: small, blocksInFlight: 1,
      compressBlock: async (block, level) => { if (block.length === 5) throw new Error('last block failed'); await sleep(20); return zstdFrame(block, level); },
    });
    await expect(failing).rejects.toThrow('last block failed');
  });

  it('holds a bounded number of bytes with a slow reader (200 MiB through)', async () => {
    const total = 200 * 1024 * 1024;
    const chunk = text(1024 * 1024);
    let pulled = 0;
    const source = new Readable({
      highWaterMark: 1024 * 1024,
      read() {
        if (pulled >= total) { this.push(null); return; }
        pulled += chunk.length;
        this.push(chunk);
      },
    });
    const compressor = createParallelZstdCompressor(1, { blocksInFlight: 4 });
    let delivered = 0;
    let mostHeld = 0;
    let mostInFlight = 0;
    const watch = (): void => {
      mostHeld = Math.max(mostHeld, compressor.heldBytes);
      mostInFlight = Math.max(mostInFlight, pulled - delivered);
    };
    source.on('data', watch);
    const slowReader = new Writable({
      highWaterMark: 1024 * 1024,
      write(data: Buffer, _e, cb) {
        delivered += data.length;
        watch();
        setTimeout(cb, 3);
      },
    });
    await pipeline(source, compressor, createZstdDecompressor(), slowReader);
    expect(delivered).toBe(total);
    // The compressor's own count stays under its stated bound (1 MiB blocks, 4 in flight: about 9.5 MiB)...
    expect(compressor.heldBytesBound).toBeLessThan(12 * 1024 * 1024);
    expect(mostHeld).toBeLessThanOrEqual(compressor.heldBytesBound);
    expect(mostHeld).toBeGreaterThan(0);
    if (process.env.SHOW_HELD) console.log({ mostHeld, mostInFlight, bound: compressor.heldBytesBound });
    // ...and so does everything between the source and the reader, measured from outside (plus
    // the source's, the decompressor's and the reader's buffers, 1 MiB each, and one frame's output).
    expect(mostInFlight).toBeLessThanOrEqual(compressor.heldBytesBound + 8 * 1024 * 1024);
  }, 120_000);
});
