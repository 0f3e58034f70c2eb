import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

/** Samples read from a file to judge it, and their size: 2 MiB in all, spread over the whole file. */
const SAMPLES = 8;
const SAMPLE_BYTES = 256 * 1024;
/**
 * A file whose samples shrink to more than this share of their size is not worth compressing: zstd
 * would cost its CPU time (about a quarter more than a plain backup here, docs/benchmarks.md) to
 * save under a tenth of the upload.
 */
export const INCOMPRESSIBLE_RATIO = 0.9;

const zstdCompress = promisify(zlib.zstdCompress);

/**
 * sampleRatio is how well a file compresses, judged on samples spread through it (zstd level 1, on
 * the libuv pool): compressed bytes over sample bytes. A file of at most the samples' size is
 * judged whole.
 */
export async function sampleRatio(path: string, size: number): Promise<number> {
  const file = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    const step = size <= SAMPLES * SAMPLE_BYTES ? 0 : Math.floor((size - SAMPLE_BYTES) / (SAMPLES - 1));
    for (let i = 0; i < (step === 0 ? 1 : SAMPLES); i++) {
      const length = step === 0 ? size : SAMPLE_BYTES;
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, i * step);
      chunks.push(buffer.subarray(0, bytesRead));
    }
    const raw = chunks.reduce((n, c) => n + c.length, 0);
    if (raw === 0) return 0;
    let packed = 0;
    for (const chunk of chunks) packed += (await zstdCompress(chunk, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } })).length;
    return packed / raw;
  } finally {
    await file.close();
  }
}

/** worthCompressing says whether a file's samples shrink enough to pay for compressing it. */
export async function worthCompressing(path: string, size: number): Promise<{ worth: boolean; ratio: number }> {
  const ratio = await sampleRatio(path, size);
  return { worth: ratio <= INCOMPRESSIBLE_RATIO, ratio };
}
