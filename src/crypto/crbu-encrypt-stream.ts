import { createCipheriv, randomBytes, type CipherGCM } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CRBU_CIPHER, CRBU_MAGIC, CRBU_NONCE_LENGTH, type CrbuVersion } from './crbu-format.js';
import { deriveBackupKey } from './derive-backup-key.js';
import { updateInSlices } from './update-in-slices.js';

/** CrbuStreamOptions tunes buffering of the CRBU streams; the defaults suit file and S3 I/O. */
export interface CrbuStreamOptions {
  /** Bytes buffered on each side before backpressure (default 1 MiB). */
  highWaterMark?: number;
}

/** Matches the jobs' 1 MiB file reads; a stream then holds about 2 MiB whatever the backup's size. */
export const CRBU_DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/**
 * createEncryptStream is a Transform that turns plaintext into a CRBU envelope: it emits the
 * header with a fresh random nonce, the ciphertext as it goes, and the GCM tag at the end.
 */
export function createEncryptStream(masterKey: Buffer, version: CrbuVersion = 1, options: CrbuStreamOptions = {}): Transform {
  const nonce = randomBytes(CRBU_NONCE_LENGTH);
  const cipher = createCipheriv(CRBU_CIPHER, deriveBackupKey(masterKey), nonce) as CipherGCM;
  const header = Buffer.concat([CRBU_MAGIC, Buffer.from([version]), nonce]);
  const highWaterMark = options.highWaterMark ?? CRBU_DEFAULT_HIGH_WATER_MARK;
  let headerSent = false;

  const sendHeader = (stream: Transform): void => {
    if (headerSent) return;
    headerSent = true;
    stream.push(header);
  };

  return new Transform({
    highWaterMark,
    transform(this: Transform, chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      sendHeader(this);
      updateInSlices(cipher, chunk, (output) => this.push(output));
      callback();
    },
    flush(this: Transform, callback: TransformCallback) {
      // An empty plaintext still gets a header and a tag: it is a valid, verifiable envelope.
      sendHeader(this);
      const rest = cipher.final();
      if (rest.length > 0) this.push(rest);
      callback(null, cipher.getAuthTag());
    },
  });
}
