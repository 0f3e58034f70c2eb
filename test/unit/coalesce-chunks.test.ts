import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createChunkCoalescer } from '../../src/compression/coalesce-chunks.js';

async function through(chunks: Buffer[], minBytes: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), createChunkCoalescer(minBytes), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return out;
}

describe('createChunkCoalescer: small chunks in, chunks of at least minBytes out', () => {
  it('gathers small chunks into chunks of at least minBytes, the last one shorter, every byte in order', async () => {
    const data = randomBytes(10_000);
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < data.length; i++) {
      const n = 1 + ((i * 37) % 300);
      chunks.push(data.subarray(at, at + n));
      at += n;
    }
    const out = await through(chunks, 1000);
    expect(Buffer.concat(out).equals(data)).toBe(true);
    expect(out.slice(0, -1).every((chunk) => chunk.length >= 1000)).toBe(true);
    expect(out.at(-1)!.length).toBeGreaterThan(0);
    // Gathered, not passed on one by one.
    expect(out.length).toBeLessThanOrEqual(11);
  });

  it('passes a chunk of minBytes or more on as it is when nothing is held', async () => {
    const big = randomBytes(5000);
    const out = await through([big], 1000);
    expect(out).toHaveLength(1);
    expect(out[0]).toBe(big);
  });

  it('passes nothing on for nothing', async () => {
    expect(await through([], 1000)).toEqual([]);
  });
});
