import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { rangedBody, totalFromContentRange } from '../../src/storage/s3-ranged-download.js';

const read = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

describe('rangedBody: the rest of an object in ranges, in order, a bounded number at a time', () => {
  const object = randomBytes(1000 * 37 + 11);

  it('hands on the bytes in order whatever order the ranges finish in, never more than `concurrency` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const fetchRange = async (start: number, end: number): Promise<Buffer[]> => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      // Later ranges often finish first.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 15)));
      inFlight -= 1;
      // As a socket hands them over: a range in several chunks.
      const cut = start + Math.floor((end - start) / 3);
      return [object.subarray(start, cut), object.subarray(cut, end + 1)];
    };
    const first = Readable.from([object.subarray(0, 600), object.subarray(600, 1000)]);
    const body = rangedBody(first, { firstLength: 1000, total: object.length, partSize: 1000, concurrency: 3, fetchRange });
    expect((await read(body)).equals(object)).toBe(true);
    expect(most).toBe(3);
  });

  it('fails on a short range, and aborts the ranges still in flight', async () => {
    const aborted: number[] = [];
    const fetchRange = (start: number, end: number, signal: AbortSignal): Promise<Buffer[]> => new Promise((resolve) => {
      if (start === 1000) { resolve([object.subarray(start, end + 1)]); return; }
      if (start === 2000) { resolve([object.subarray(start, start + 500), object.subarray(start + 500, end)]); return; } // one byte short
      signal.addEventListener('abort', () => { aborted.push(start); resolve([]); });
    });
    const body = rangedBody(Readable.from([object.subarray(0, 1000)]), { firstLength: 1000, total: object.length, partSize: 1000, concurrency: 4, fetchRange });
    await expect(read(body)).rejects.toThrow(/came back with 999 bytes, not 1000/);
    await new Promise((r) => setImmediate(r));
    expect(aborted.length).toBeGreaterThan(0);
  });

  it('fails when the first range ends early (a cut connection), rather than handing on a gap', async () => {
    const fetchRange = async (start: number, end: number): Promise<Buffer[]> => [object.subarray(start, end + 1)];
    const body = rangedBody(Readable.from([object.subarray(0, 700)]), { firstLength: 1000, total: object.length, partSize: 1000, concurrency: 2, fetchRange });
    await expect(read(body)).rejects.toThrow(/first range ended after 700 of 1000 bytes/);
  });

  it('reads the size from Content-Range', () => {
    expect(totalFromContentRange('bytes 0-8388607/734003200')).toBe(734003200);
    expect(totalFromContentRange(undefined)).toBeUndefined();
    expect(totalFromContentRange('bytes */10')).toBeUndefined();
  });
});
