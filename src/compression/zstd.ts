import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { SnapkeepError } from '../errors.js';

/**
 * zstd through Node's own zlib (Node >= 22.15: no native dependency of ours). Compression runs on
 * the libuv pool, never the event loop, so the API in `serve` keeps answering during a backup. Backups compress before they encrypt: ciphertext does
 * not compress.
 */

/** Every zstd frame starts with these four bytes (RFC 8878): how a restore tells its key was right. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** zstdAvailable says whether this Node has zstd streams (22.15+, 23.8+). */
export const zstdAvailable = (): boolean => typeof zlib.createZstdCompress === 'function';

function requireZstd(): void {
  if (!zstdAvailable()) throw new SnapkeepError('invalid_config', `zstd needs Node >= 22.15 (this is ${process.version})`);
}

/** createZstdCompressor is a zstd frame of what is written to it, at level (1-19), with a checksum. */
export function createZstdCompressor(level: number): Transform {
  requireZstd();
  const c = zlib.constants;
  return zlib.createZstdCompress({
    params: {
      [c.ZSTD_c_compressionLevel]: level,
      [c.ZSTD_c_checksumFlag]: 1,
      // One thread, on the libuv pool: Node's zstd stream with nbWorkers >= 1 emits a truncated or
      // broken frame for inputs past a few MiB (nodejs/node#59899; measured here: a 248 MiB database
      // gave a 10 MiB object that did not restore). Revisit when that is fixed.
      [c.ZSTD_c_nbWorkers]: 0,
    },
    chunkSize: 1024 * 1024,
  });
}

/** createZstdDecompressor undoes it; a damaged frame fails the stream. */
export function createZstdDecompressor(): Transform {
  requireZstd();
  return zlib.createZstdDecompress({ chunkSize: 1024 * 1024 });
}

/** isZstdError recognises zlib's zstd failures (a frame that is not one, or damaged). */
export function isZstdError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ZSTD_error');
}
