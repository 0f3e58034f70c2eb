import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createDecryptStream } from '../../src/crypto/crbu-decrypt-stream.js';
import { createEncryptedFileStream } from '../../src/crypto/crbu-encrypt-file.js';
import { CRBU_HEADER_LENGTH, CRBU_MAGIC, CRBU_TAG_LENGTH } from '../../src/crypto/crbu-format.js';
import { removeDir } from '../helpers/redis-server.js';

const key = randomBytes(32);
const dir = mkdtempSync(join(tmpdir(), 'snapkeep-encfile-'));
afterAll(() => removeDir(dir));

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(stream, new Writable({ write(chunk: Buffer, _e, cb) { chunks.push(chunk); cb(); } }));
  return Buffer.concat(chunks);
}

describe('createEncryptedFileStream', () => {
  // Sizes around the read size and the cipher's 64 KiB slices, and empty.
  for (const size of [0, 1, 65_535, 65_536, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 17]) {
    it(`writes a CRBU v1 envelope that decrypts to the file (${size} bytes)`, async () => {
      const plain = randomBytes(size);
      const path = join(dir, `plain-${size}`);
      writeFileSync(path, plain);
      const envelope = await collect(createEncryptedFileStream(path, key, 1, { readSize: 256 * 1024 }));
      expect(envelope.length).toBe(size + CRBU_HEADER_LENGTH + CRBU_TAG_LENGTH);
      expect(envelope.subarray(0, 4).equals(CRBU_MAGIC)).toBe(true);
      expect(envelope[4]).toBe(1);
      const decrypted = await collect(Readable.from([envelope]).pipe(createDecryptStream(key, { acceptVersions: [1] })));
      expect(decrypted.equals(plain)).toBe(true);
    });
  }

  it('reads with a slow consumer without losing or reordering bytes', async () => {
    const plain = randomBytes(5 * 1024 * 1024 + 3);
    const path = join(dir, 'slow');
    writeFileSync(path, plain);
    const chunks: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _e, cb) { chunks.push(chunk); setImmediate(cb); },
    });
    await pipeline(createEncryptedFileStream(path, key, 2, { readSize: 64 * 1024, highWaterMark: 1024 }), slow);
    const envelope = Buffer.concat(chunks);
    expect(envelope[4]).toBe(2);
    const decrypted = await collect(Readable.from([envelope]).pipe(createDecryptStream(key, { acceptVersions: [2] })));
    expect(decrypted.equals(plain)).toBe(true);
  });

  it('fails with the file system error when the file is missing', async () => {
    await expect(collect(createEncryptedFileStream(join(dir, 'missing'), key, 1))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
