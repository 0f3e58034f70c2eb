import { describe, expect, it } from 'vitest';
import { PartBufferPool } from '../../src/storage/part-buffer-pool.js';

describe('PartBufferPool', () => {
  it('allocates at most count buffers and reuses the ones given back', async () => {
    const pool = new PartBufferPool(2, 1024);
    const a = await pool.take();
    const b = await pool.take();
    expect(a).not.toBe(b);
    expect(a.length).toBe(1024);
    let third: Buffer | undefined;
    const waiting = pool.take().then((buffer) => { third = buffer; });
    await new Promise((resolve) => setImmediate(resolve));
    expect(third).toBeUndefined();
    pool.give(b);
    await waiting;
    expect(third).toBe(b);
    pool.give(a);
    expect(await pool.take()).toBe(a);
  });

  it('fail rejects a waiting take and every later one with the same error', async () => {
    const pool = new PartBufferPool(1, 16);
    await pool.take();
    const waiting = pool.take();
    const error = new Error('upload failed');
    pool.fail(error);
    await expect(waiting).rejects.toBe(error);
    await expect(pool.take()).rejects.toBe(error);
    pool.fail(new Error('a later failure'));
    await expect(pool.take()).rejects.toBe(error);
  });

  it('refuses a pool without buffers', () => {
    expect(() => new PartBufferPool(0, 16)).toThrow(RangeError);
  });
});
