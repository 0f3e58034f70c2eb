import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { SnapkeepError } from '../errors.js';

/**
 * zstd through Node's own zlib (Node >= 22.15: no native dependency of ours). Compression runs on
 * the libuv pool, never the event loop, so the API in `serve` keeps answering during a backup. Backups compress before they encrypt: ciphertext does
 * not compress. Compression is parallel-zstd.ts (independent frames, several at once; not Node's
 * multi-threaded stream, which cuts frames short: nodejs/node#59899).
 */

/** Every zstd frame starts with these four bytes (RFC 8878): how a restore tells its key was right. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** zstdAvailable says whether this Node has zstd streams (22.15+, 23.8+). */
export const zstdAvailable = (): boolean => typeof zlib.createZstdCompress === 'function';

/** requireZstd fails with a configuration error on a Node without zstd. */
export function requireZstd(): void {
  if (!zstdAvailable()) throw new SnapkeepError('invalid_config', `zstd needs Node >= 22.15 (this is ${process.version})`);
}

/** createZstdDecompressor reads a zstd stream (one or more frames); a damaged frame fails it. */
export function createZstdDecompressor(): Transform {
  requireZstd();
  return zlib.createZstdDecompress({ chunkSize: 1024 * 1024 });
}

/** isZstdError recognises zlib's zstd failures (a frame that is not one, or damaged). */
export function isZstdError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ZSTD_error');
}
