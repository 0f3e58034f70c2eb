import { pipeline, Readable, Transform } from 'node:stream';
import { ageDecrypt, type AgeKeys } from '../../src/age/age-decrypt.js';
import type { findBackup } from '../../src/backups/find-backup.js';
import { createChunkCoalescer } from '../../src/compression/coalesce-chunks.js';
import { createVersionDecoder } from '../../src/compression/decode-by-version.js';
import { createZstdDecompressor, isZstdError } from '../../src/compression/zstd.js';
import { createDecryptStream, UnsupportedCrbuVersionError } from '../../src/crypto/crbu-decrypt-stream.js';
import { ZSTD_CRBU_VERSIONS } from '../../src/crypto/crbu-format.js';
import { SnapkeepError } from '../../src/errors.js';
import { countDownload } from './download-progress.js';
import type { JobContext } from '../runtime/job-context.js';
import { masterKeysInOrder } from './master-keys.js';

/** FoundBackup is a backup's object as findBackup returns it: name, kind, encryption, size, metadata. */
export type FoundBackup = Awaited<ReturnType<typeof findBackup>>;

/** OpenedPlaintext is a backup's decrypted stream, and which master key opened it (CRBU only). */
export interface OpenedPlaintext {
  stream: Readable;
  keyIndex?: number;
}

const TAR_BLOCK = 512;

/**
 * openBackupPlaintext downloads a backup and returns its plaintext as a stream: age with the
 * passphrase or identities given, or a CRBU v2 archive with the first master key whose plaintext
 * starts as a snapkeep archive must (a tar header for manifest.json). CRBU plaintext is unverified
 * until the stream ends without error; age plaintext is verified chunk by chunk.
 */
export async function openBackupPlaintext(ctx: JobContext, backup: FoundBackup, keys: AgeKeys): Promise<OpenedPlaintext> {
  if (backup.encryption === 'age') {
    const opened = await ageDecrypt(await download(ctx, backup), keys);
    // `.zst.age`: age around a zstd frame.
    // Gathered into 1 MiB chunks first: the decompressor's speed depends on it (coalesce-chunks.ts).
    return { stream: backup.compression === 'zstd' ? pipeline(opened, createChunkCoalescer(), createZstdDecompressor(), () => undefined) : opened };
  }
  const masterKeys = masterKeysInOrder(ctx.config, backup.metadata['snapkeep-key']);
  if (masterKeys.length === 0) throw new SnapkeepError('invalid_config', 'MASTER_KEY is not set');
  for (const { key, index } of masterKeys) {
    // pipeline, not pipe: a failed download must fail the decryption, and a closed decryption the download.
    // Version 4 is a zstd frame of the archive, decompressed before the tar is read.
    const decrypt = createDecryptStream(key, { acceptVersions: [2, 4] });
    const decrypted = pipeline(await download(ctx, backup), decrypt, createVersionDecoder(() => decrypt.version, ZSTD_CRBU_VERSIONS), () => undefined);
    const opened = await startsAsArchive(decrypted);
    if (opened) return { stream: opened, keyIndex: index };
    ctx.logger.info('archive did not open with this master key', { keyIndex: index });
  }
  throw new SnapkeepError('decrypt_failed', 'wrong master key or corrupted backup');
}

/**
 * startsAsArchive reads the first tar block: with the right key it is the header of manifest.json;
 * with a wrong one it is noise (GCM is counter mode: decryption "succeeds" until the tag). On a
 * match it returns a stream that replays the block, else null, having closed the download.
 */
async function startsAsArchive(decrypted: Transform): Promise<Readable | null> {
  const chunks = decrypted[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  try {
    while (head.length < TAR_BLOCK) {
      const next = await chunks.next();
      if (next.done) break;
      head = Buffer.concat([head, next.value]);
    }
  } catch (error) {
    decrypted.destroy();
    // A wrong key turns a zstd frame into noise, which zstd refuses at once: try the next key.
    if (isZstdError(error) && head.length === 0) return null;
    if (error instanceof UnsupportedCrbuVersionError && (error.version === 1 || error.version === 3)) {
      throw new SnapkeepError('unsupported_version', `${error.message}: a .tar.crbu backup must hold an archive (version 2), this one holds a database`, { cause: error });
    }
    throw error;
  }
  const isManifest = head.length >= TAR_BLOCK && head.subarray(0, 14).equals(Buffer.from('manifest.json\0')) && head.subarray(257, 262).toString('latin1') === 'ustar';
  if (!isManifest) {
    await chunks.return?.();
    decrypted.destroy();
    return null;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      yield head;
      for (;;) {
        const next = await chunks.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Closing early (a failed extraction) closes the decryption and the download with it.
      await chunks.return?.();
    }
  }
  return Readable.from(replay(), { objectMode: false, highWaterMark: 1024 * 1024 });
}

/** download opens the object and reports download progress as its bytes arrive. */
async function download(ctx: JobContext, backup: FoundBackup): Promise<Readable> {
  const object = await ctx.store.get(backup.name, ctx.signal ? { signal: ctx.signal } : {});
  const counter = countDownload(ctx, object.size);
  return pipeline(object.body, counter, () => undefined);
}

