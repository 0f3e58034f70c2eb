import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createDecryptStream } from '../../src/crypto/crbu-decrypt-stream.js';
import { createEncryptStream } from '../../src/crypto/crbu-encrypt-stream.js';
import { CRBU_HEADER_LENGTH, CRBU_TAG_LENGTH } from '../../src/crypto/crbu-format.js';
import { deriveBackupKey, keyFingerprint } from '../../src/crypto/derive-backup-key.js';
import { SnapkeepError } from '../../src/errors.js';

interface Vectors {
  derived_keys: { master_key_hex: string; backup_key_hex: string }[];
  cases: { name: string; master_key_hex: string; crbu_hex: string; expect: string; plaintext_hex?: string }[];
  files: { crbu: string; master_key_hex: string; plaintext: string; plaintext_sha256: string }[];
}

// The vectors are the contract's, shared with other CRBU implementations; copied into test/fixtures.
const vectorsDir = new URL('../fixtures/crbu-vectors/', import.meta.url);
const vectors = JSON.parse(readFileSync(new URL('crbu-v1.json', vectorsDir), 'utf8')) as Vectors;

// Which error codes each `expect` of the vector file allows.
const EXPECTED_CODES: Record<string, string[]> = {
  'authentication failure': ['decrypt_failed'],
  'authentication failure or truncated': ['decrypt_failed', 'truncated'],
  truncated: ['truncated'],
  'truncated or not a CRBU file': ['truncated', 'not_crbu'],
  'not a CRBU file': ['not_crbu'],
  'unsupported version': ['unsupported_version'],
};

const MESSAGES: Record<string, string> = {
  decrypt_failed: 'wrong master key or corrupted backup',
  truncated: 'backup is truncated',
  not_crbu: 'not a CRBU file',
};

/** Splits a buffer into chunks whose sizes cycle through `sizes`, to exercise every boundary. */
function* chunked(data: Buffer, sizes: number[]): Generator<Buffer> {
  let offset = 0;
  for (let i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(offset, offset + size);
    offset += size;
  }
}

function collect(into: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      into.push(chunk);
      callback();
    },
  });
}

async function encrypt(masterKey: Buffer, plaintext: Buffer, sizes = [65536], version: 1 | 2 = 1): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunked(plaintext, sizes)), createEncryptStream(masterKey, version), collect(out));
  return Buffer.concat(out);
}

async function decrypt(masterKey: Buffer, envelope: Buffer, sizes = [65536], acceptVersions = [1]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunked(envelope, sizes)), createDecryptStream(masterKey, { acceptVersions }), collect(out));
  return Buffer.concat(out);
}

async function decryptError(masterKey: Buffer, envelope: Buffer, sizes = [65536], acceptVersions = [1]): Promise<SnapkeepError> {
  const error = await decrypt(masterKey, envelope, sizes, acceptVersions).then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SnapkeepError);
  const snapkeepError = error as SnapkeepError;
  expect(snapkeepError.retryable).toBe(false);
  return snapkeepError;
}

const key = Buffer.from(vectors.derived_keys[0]!.master_key_hex, 'hex');

describe('deriveBackupKey', () => {
  it.each(vectors.derived_keys)('matches the vector for $master_key_hex', ({ master_key_hex, backup_key_hex }) => {
    expect(deriveBackupKey(Buffer.from(master_key_hex, 'hex')).toString('hex')).toBe(backup_key_hex);
  });

  it('rejects a master key that is not 32 bytes, without echoing it', () => {
    expect(() => deriveBackupKey(Buffer.from('abcdef', 'hex'))).toThrow(/master key must be 32 bytes/);
    expect(() => deriveBackupKey(Buffer.from('abcdef', 'hex'))).not.toThrow(/abcdef/);
  });
});

describe('keyFingerprint', () => {
  it('is 16 hex digits, stable, different per key, and not part of either key', () => {
    const other = Buffer.from(vectors.derived_keys[1]!.master_key_hex, 'hex');
    const fingerprint = keyFingerprint(key);
    expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(keyFingerprint(key)).toBe(fingerprint);
    expect(keyFingerprint(other)).not.toBe(fingerprint);
    expect(key.toString('hex')).not.toContain(fingerprint);
    expect(deriveBackupKey(key).toString('hex')).not.toContain(fingerprint);
  });
});

describe('CRBU vectors', () => {
  it.each(vectors.cases)('$name: $expect', async ({ master_key_hex, crbu_hex, expect: expected, plaintext_hex }) => {
    const masterKey = Buffer.from(master_key_hex, 'hex');
    const envelope = Buffer.from(crbu_hex, 'hex');
    for (const sizes of [[envelope.length || 1], [1], [3, 7, 16]]) {
      if (expected === 'ok') {
        expect((await decrypt(masterKey, envelope, sizes)).toString('hex')).toBe(plaintext_hex);
        continue;
      }
      const allowed = EXPECTED_CODES[expected];
      expect(allowed, `unknown expectation "${expected}"`).toBeDefined();
      const error = await decryptError(masterKey, envelope, sizes);
      expect(allowed).toContain(error.code);
      if (error.code === 'unsupported_version') expect(error.message).toBe(`unsupported CRBU version ${envelope[4]}`);
      else expect(error.message).toBe(MESSAGES[error.code]);
    }
  });

  it.each(vectors.files)('$crbu decrypts to $plaintext', async ({ crbu, master_key_hex, plaintext, plaintext_sha256 }) => {
    const hash = createHash('sha256');
    const decryptStream = createDecryptStream(Buffer.from(master_key_hex, 'hex'), { acceptVersions: [1] });
    await pipeline(createReadStream(new URL(crbu, vectorsDir), { highWaterMark: 4099 }), decryptStream, hash);
    const digest = hash.digest('hex');
    expect(digest).toBe(plaintext_sha256);
    expect(createHash('sha256').update(readFileSync(fileURLToPath(new URL(plaintext, vectorsDir)))).digest('hex')).toBe(digest);
    expect(decryptStream.version).toBe(1);
  });
});

describe('createEncryptStream and createDecryptStream', () => {
  const sizes = [0, 1, 15, 16, 17, 64 * 1024 + 3, 5 * 1024 * 1024];

  it.each(sizes)('round-trips %i random bytes in odd chunk sizes', async (size) => {
    const plaintext = randomBytes(size);
    const envelope = await encrypt(key, plaintext, [1, 4093, 17, 65537]);
    expect(envelope.length).toBe(CRBU_HEADER_LENGTH + size + CRBU_TAG_LENGTH);
    expect(envelope.subarray(0, 5).toString('hex')).toBe('4352425501');
    for (const chunkSizes of [[1, 2, 3, 5, 7, 11, 13], [16, 17], [99_991]]) {
      if (size > 100_000 && chunkSizes[0] === 1) continue; // byte-by-byte over 5 MiB only slows the suite
      expect((await decrypt(key, envelope, chunkSizes)).equals(plaintext)).toBe(true);
    }
  });

  it('uses a fresh nonce for every envelope', async () => {
    const plaintext = Buffer.from('same plaintext');
    const [a, b] = [await encrypt(key, plaintext), await encrypt(key, plaintext)];
    expect(a.subarray(5, 17).equals(b.subarray(5, 17))).toBe(false);
  });

  it('round-trips version 2 and reports the version', async () => {
    const plaintext = randomBytes(10_000);
    const envelope = await encrypt(key, plaintext, [333], 2);
    expect(envelope[4]).toBe(2);
    const seen: number[] = [];
    const decryptStream = createDecryptStream(key, { acceptVersions: [1, 2] });
    decryptStream.on('version', (version: number) => seen.push(version));
    const out: Buffer[] = [];
    await pipeline(Readable.from([envelope]), decryptStream, collect(out));
    expect(Buffer.concat(out).equals(plaintext)).toBe(true);
    expect(decryptStream.version).toBe(2);
    expect(seen).toEqual([2]);
  });

  it('rejects version 2 when only version 1 is accepted, and version 1 when only 2 is', async () => {
    const v2 = await encrypt(key, randomBytes(100), [100], 2);
    const error = await decryptError(key, v2, [100], [1]);
    expect(error.code).toBe('unsupported_version');
    expect(error.message).toBe('unsupported CRBU version 2');
    const v1 = await encrypt(key, randomBytes(100), [100], 1);
    expect((await decryptError(key, v1, [100], [2])).code).toBe('unsupported_version');
  });

  it('fails authentication when any single byte after the magic and version is flipped', async () => {
    const plaintext = randomBytes(300);
    const envelope = await encrypt(key, plaintext);
    for (let offset = 5; offset < envelope.length; offset++) {
      const damaged = Buffer.from(envelope);
      damaged[offset]! ^= 0x01;
      const error = await decryptError(key, damaged, [64]);
      expect(error.code, `byte ${offset}`).toBe('decrypt_failed');
    }
  });

  it('rejects a flipped magic or version byte as not CRBU or unsupported', async () => {
    const envelope = await encrypt(key, randomBytes(50));
    for (let offset = 0; offset < 5; offset++) {
      const damaged = Buffer.from(envelope);
      damaged[offset]! ^= 0x01;
      const error = await decryptError(key, damaged);
      expect(error.code).toBe(offset < 4 ? 'not_crbu' : 'unsupported_version');
    }
  });

  it('fails with the wrong master key', async () => {
    const envelope = await encrypt(key, randomBytes(1000));
    const error = await decryptError(randomBytes(32), envelope);
    expect(error.code).toBe('decrypt_failed');
  });

  it('reports truncation anywhere in the envelope', async () => {
    const envelope = await encrypt(key, randomBytes(1000));
    for (const length of [0, 4, 16, 17, 32]) {
      expect((await decryptError(key, envelope.subarray(0, length))).code, `length ${length}`).toBe('truncated');
    }
    // Cutting into the body moves bytes of ciphertext into the tag's place: authentication fails.
    expect((await decryptError(key, envelope.subarray(0, envelope.length - 1))).code).toBe('decrypt_failed');
  });
});
