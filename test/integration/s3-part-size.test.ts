import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BackupStore } from '../../src/storage/s3-store.js';
import { startS3Server, storeConfigFor, type TestS3Server } from '../helpers/s3-server.js';

const MiB = 1024 * 1024;

describe('S3 part size and the expected-size hint', () => {
  let s3: TestS3Server;
  beforeAll(async () => { s3 = await startS3Server(); });
  afterAll(async () => { await s3?.close(); });

  // Parts of one upload: the PUTs that carry a partNumber, under this test's prefix.
  const partsUploaded = (prefix: string): number =>
    s3.requests.filter((r) => r.method === 'PUT' && r.url.includes(prefix) && /[?&]partNumber=/.test(r.url)).length;

  async function put(store: S3BackupStore, name: string, body: Buffer, expectedSize?: number): Promise<Buffer> {
    // 1 MiB chunks, as the backup's encrypted file stream hands them on.
    const chunks = Array.from({ length: Math.ceil(body.length / MiB) }, (_, i) => body.subarray(i * MiB, (i + 1) * MiB));
    await store.put(name, Readable.from(chunks), expectedSize === undefined ? {} : { expectedSize });
    const object = await store.get(name);
    const read: Buffer[] = [];
    for await (const chunk of object.body) read.push(chunk as Buffer);
    return Buffer.concat(read);
  }

  it('uploads in parts of the configured size without a hint, and of a larger size when the hint needs it', async () => {
    const body = randomBytes(13 * MiB);
    const plainConfig = storeConfigFor(s3);
    const plain = new S3BackupStore(plainConfig, { partSize: 6 * MiB });
    expect((await put(plain, 'a.crbu', body)).equals(body)).toBe(true);
    expect(partsUploaded(plainConfig.prefix)).toBe(3); // 6 + 6 + 1 MiB

    // A hinted 9,000 × 7 MiB body would need more than 9,000 parts of 6 MiB: parts grow to 7 MiB.
    const hintedConfig = storeConfigFor(s3);
    const hinted = new S3BackupStore(hintedConfig, { partSize: 6 * MiB });
    expect((await put(hinted, 'b.crbu', body, 9_000 * 7 * MiB)).equals(body)).toBe(true);
    expect(partsUploaded(hintedConfig.prefix)).toBe(2); // 7 + 6 MiB
  });

  it('never goes below the configured part size for a small hint', async () => {
    const body = randomBytes(7 * MiB);
    const config = storeConfigFor(s3);
    const store = new S3BackupStore(config, { partSize: 5 * MiB });
    expect((await put(store, 'c.crbu', body, 7 * MiB)).equals(body)).toBe(true);
    expect(partsUploaded(config.prefix)).toBe(2); // 5 + 2 MiB
  });

  it('sends Content-MD5 with every part when the settings ask for it (BACKUP_S3_CONTENT_MD5)', async () => {
    const body = randomBytes(11 * MiB);
    const config = { ...storeConfigFor(s3), contentMd5: true };
    const store = new S3BackupStore(config, { partSize: 5 * MiB });
    expect((await put(store, 'd.crbu', body)).equals(body)).toBe(true);
    const parts = s3.requests.filter((r) => r.method === 'PUT' && r.url.includes(config.prefix) && /[?&]partNumber=/.test(r.url));
    expect(parts).toHaveLength(3);
    expect(parts.every((r) => typeof r.headers['content-md5'] === 'string')).toBe(true);

    const plainConfig = storeConfigFor(s3);
    await put(new S3BackupStore(plainConfig, { partSize: 5 * MiB }), 'e.crbu', body);
    const plainParts = s3.requests.filter((r) => r.method === 'PUT' && r.url.includes(plainConfig.prefix) && /[?&]partNumber=/.test(r.url));
    expect(plainParts.some((r) => 'content-md5' in r.headers)).toBe(false);
  });

  it('sends parts on kept-alive connections, without Expect: 100-continue (with it the SDK opens a connection per part)', async () => {
    const config = storeConfigFor(s3);
    expect((await put(new S3BackupStore(config, { partSize: 5 * MiB }), 'f.crbu', randomBytes(11 * MiB))).length).toBe(11 * MiB);
    const parts = s3.requests.filter((r) => r.method === 'PUT' && r.url.includes(config.prefix) && /[?&]partNumber=/.test(r.url));
    expect(parts).toHaveLength(3);
    expect(parts.map((r) => [r.headers.connection, r.headers.expect])).toEqual(parts.map(() => ['keep-alive', undefined]));
  });
});
