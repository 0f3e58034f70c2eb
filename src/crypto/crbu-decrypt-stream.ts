import { createDecipheriv, type DecipherGCM } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { SnapkeepError } from '../errors.js';
import { CRBU_DEFAULT_HIGH_WATER_MARK, type CrbuStreamOptions } from './crbu-encrypt-stream.js';
import { CRBU_CIPHER, CRBU_HEADER_LENGTH, CRBU_MAGIC, CRBU_TAG_LENGTH } from './crbu-format.js';
import { deriveBackupKey } from './derive-backup-key.js';
import { updateInSlices } from './update-in-slices.js';

/** CrbuDecryptOptions says which envelope versions the caller can handle (1 database, 2 archive). */
export interface CrbuDecryptOptions extends CrbuStreamOptions {
  acceptVersions: readonly number[];
}

const EMPTY = Buffer.alloc(0);

/**
 * UnsupportedCrbuVersionError is a CRBU envelope whose version byte the reader does not accept;
 * `version` lets the caller explain a known version in the wrong place (an archive where a
 * database was expected).
 */
export class UnsupportedCrbuVersionError extends SnapkeepError {
  constructor(readonly version: number) {
    super('unsupported_version', `unsupported CRBU version ${version}`);
    this.name = 'UnsupportedCrbuVersionError';
  }
}

/**
 * CrbuDecryptStream is a Transform from a CRBU envelope to its plaintext. It emits plaintext as
 * it decrypts, so the consumer must treat the output as unverified until the stream finishes
 * without error: the GCM tag is only checked at the very end. Once the header is read, `version`
 * holds the envelope's version and a `version` event carries it.
 */
export class CrbuDecryptStream extends Transform {
  /** The version byte of the envelope, or null while the header has not arrived yet. */
  version: number | null = null;

  private readonly key: Buffer;
  private readonly acceptVersions: ReadonlySet<number>;
  private header: Buffer = EMPTY;
  private decipher: DecipherGCM | null = null;
  // The last 16 bytes seen so far: they may be the tag, so they are never decrypted early.
  private tail: Buffer = EMPTY;

  constructor(masterKey: Buffer, options: CrbuDecryptOptions) {
    const highWaterMark = options.highWaterMark ?? CRBU_DEFAULT_HIGH_WATER_MARK;
    super({ highWaterMark });
    this.key = deriveBackupKey(masterKey);
    this.acceptVersions = new Set(options.acceptVersions);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const body = this.decipher ? chunk : this.readHeader(chunk);
      if (this.decipher && body.length > 0) this.decryptHoldingTag(this.decipher, body);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (!this.decipher || this.tail.length < CRBU_TAG_LENGTH) {
      callback(new SnapkeepError('truncated', 'backup is truncated'));
      return;
    }
    try {
      this.decipher.setAuthTag(this.tail);
      const rest = this.decipher.final();
      callback(null, rest.length > 0 ? rest : undefined);
    } catch (error) {
      callback(new SnapkeepError('decrypt_failed', 'wrong master key or corrupted backup', { cause: error }));
    }
  }

  /** Collects the 17 header bytes across chunks; returns what follows them in this chunk. */
  private readHeader(chunk: Buffer): Buffer {
    const missing = CRBU_HEADER_LENGTH - this.header.length;
    this.header = Buffer.concat([this.header, chunk.subarray(0, missing)]);
    // Reject a foreign file on its first bytes instead of reading all of it first.
    const magicSeen = Math.min(this.header.length, CRBU_MAGIC.length);
    if (!this.header.subarray(0, magicSeen).equals(CRBU_MAGIC.subarray(0, magicSeen))) {
      throw new SnapkeepError('not_crbu', 'not a CRBU file');
    }
    if (this.header.length > CRBU_MAGIC.length) {
      const version = this.header[CRBU_MAGIC.length]!;
      if (!this.acceptVersions.has(version)) {
        throw new UnsupportedCrbuVersionError(version);
      }
    }
    if (this.header.length < CRBU_HEADER_LENGTH) return EMPTY;

    const version = this.header[CRBU_MAGIC.length]!;
    const nonce = this.header.subarray(CRBU_MAGIC.length + 1);
    this.decipher = createDecipheriv(CRBU_CIPHER, this.key, nonce) as DecipherGCM;
    this.version = version;
    this.emit('version', version);
    return chunk.subarray(missing);
  }

  /** Decrypts everything but the newest 16 bytes, which become the tag candidate. */
  private decryptHoldingTag(decipher: DecipherGCM, body: Buffer): void {
    const total = this.tail.length + body.length;
    if (total <= CRBU_TAG_LENGTH) {
      this.tail = Buffer.concat([this.tail, body]);
      return;
    }
    const release = total - CRBU_TAG_LENGTH;
    if (release <= this.tail.length) {
      this.push(decipher.update(this.tail.subarray(0, release)));
      this.tail = Buffer.concat([this.tail.subarray(release), body]);
      return;
    }
    if (this.tail.length > 0) this.push(decipher.update(this.tail));
    const fromBody = release - this.tail.length;
    updateInSlices(decipher, body.subarray(0, fromBody), (output) => this.push(output));
    // Copy the 16 bytes so the (large) chunk they came from can be garbage-collected.
    this.tail = Buffer.from(body.subarray(fromBody));
  }
}

/**
 * createDecryptStream is a Transform from a CRBU envelope made with this master key to its
 * plaintext, accepting only the listed versions. See CrbuDecryptStream for what it guarantees.
 */
export function createDecryptStream(masterKey: Buffer, options: CrbuDecryptOptions): CrbuDecryptStream {
  return new CrbuDecryptStream(masterKey, options);
}
