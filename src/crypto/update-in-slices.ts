import type { Cipheriv, Decipheriv } from 'node:crypto';

// Measured here: 1 MiB update() calls ran at about 570 MiB/s through encrypt+decrypt, 64 KiB ones
// at about 1,300 MiB/s. Outputs of 128 KiB and more are mmap'ed and page-faulted in on every call
// (glibc's malloc threshold); small outputs reuse warm heap memory and stay in cache.
const SLICE_BYTES = 64 * 1024;

/**
 * updateInSlices feeds data to a cipher or decipher at most 64 KiB at a time and hands each
 * output to emit, so throughput does not depend on how large the incoming chunks are.
 */
export function updateInSlices(cipher: Cipheriv | Decipheriv, data: Buffer, emit: (output: Buffer) => void): void {
  for (let offset = 0; offset < data.length; offset += SLICE_BYTES) {
    const output = cipher.update(data.subarray(offset, offset + SLICE_BYTES));
    if (output.length > 0) emit(output);
  }
}
