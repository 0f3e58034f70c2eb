import { statfs } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { SnapkeepError } from '../errors.js';

/**
 * How far a restore may write. A CRBU envelope's version byte and its plaintext are not
 * authenticated until the tag at the very end, and GCM lets anyone who can write to the bucket
 * flip plaintext bits they can predict: a version byte turned from 1 to 3 (or a crafted zstd frame)
 * could make a small object expand until the live database's filesystem is full. So a restore
 * writes at most the plaintext size the backup recorded (authenticated), and without a record at
 * most MAX_EXPANSION times the object's size, and never into the last RESERVE of free space.
 */
export const MAX_EXPANSION = 100;
const RESERVE_BYTES = 1024 ** 3;
const RESERVE_SHARE = 0.05;

/** OutputLimit is how many bytes a restore may write, and what to say when it would write more. */
export interface OutputLimit {
  bytes: number;
  why: string;
}

/** restoreOutputLimit is the limit for a restore into dir of an object of objectSize. */
export async function restoreOutputLimit(dir: string, objectSize: number, recordedSize: number | undefined): Promise<OutputLimit> {
  if (recordedSize !== undefined) return { bytes: recordedSize, why: 'the backup decodes to more than the size recorded with it (it was altered)' };
  const fs = await statfs(dir);
  const reserve = Math.max(RESERVE_BYTES, fs.blocks * fs.bsize * RESERVE_SHARE);
  const room = Math.max(0, fs.bavail * fs.bsize - reserve);
  return objectSize * MAX_EXPANSION <= room
    ? { bytes: objectSize * MAX_EXPANSION, why: `the backup decodes to more than ${MAX_EXPANSION} times its size (a decompression bomb?)` }
    : { bytes: room, why: `the restore would leave less than ${Math.round(reserve / 1024 ** 2)} MiB free on ${dir}` };
}

/** createOutputLimit passes bytes on until the limit would be passed, then fails saying why. */
export function createOutputLimit({ bytes: limit, why }: OutputLimit): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      if (total > limit) { callback(new SnapkeepError('integrity_failed', `${why}: more than ${limit} bytes`)); return; }
      callback(null, chunk);
    },
  });
}
