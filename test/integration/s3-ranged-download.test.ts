import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BackupStore } from '../../src/storage/s3-store.js';
import { startCephRgw, type TestCephRgw } from '../helpers/ceph-rgw.js';
import { startS3Server, storeConfigFor, type TestS3Server } from '../helpers/s3-server.js';

const KiB = 1024;
const read = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/** Issue 17: a restore reads a large object as ranges, several at once, all of one version of it. */
describe('ranged downloads from S3', () => {
  let s3: TestS3Server;
  let ceph: TestCephRgw;
  beforeAll(async () => { [s3, ceph] = await Promise.all([startS3Server(), startCephRgw()]); }, 120_000);
  afterAll(async () => { await Promise.all([s3?.close(), ceph?.close()]); });

  it('reads an object as ranges of the download part size and hands on every byte in order', async () => {
    const config = storeConfigFor(s3);
    const store = new S3BackupStore(config, { downloadPartSize: 64 * KiB, queueSize: 3 });
    const bytes = randomBytes(1024 * KiB + 123);
    await store.put('ranged.crbu', Readable.from([bytes]));
    const before = s3.requests.length;
    const got = await store.get('ranged.crbu');
    expect(got.size).toBe(bytes.length);
    expect((await read(got.body)).equals(bytes)).toBe(true);
    const ranges = s3.requests.slice(before).filter((r) => r.method === 'GET' && r.headers.range !== undefined).map((r) => r.headers.range);
    expect(ranges).toHaveLength(Math.ceil(bytes.length / (64 * KiB)));
    expect(ranges[0]).toBe(`bytes=0-${64 * KiB - 1}`);
  });

  it('fails a read whose object is replaced meanwhile (If-Match on every range), instead of mixing two objects', async () => {
    // storeConfigFor reads only what both servers have; radosgw's own port, past the request recorder.
    const config = { ...storeConfigFor(ceph as unknown as TestS3Server), endpoint: ceph.rgwEndpoint };
    const store = new S3BackupStore(config, { downloadPartSize: 16 * KiB, queueSize: 2 });
    await store.put('replaced.crbu', Readable.from([randomBytes(512 * KiB)]));
    const got = await store.get('replaced.crbu');
    const iterator = got.body[Symbol.asyncIterator]();
    await iterator.next();
    // Someone with the bucket's keys writes another object under the name mid-restore.
    const client = new S3Client({ endpoint: config.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } });
    await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: `${config.prefix}replaced.crbu`, Body: randomBytes(512 * KiB) }));
    client.destroy();
    const rest = (async () => { for (let r = await iterator.next(); !r.done; r = await iterator.next()); })();
    await expect(rest).rejects.toThrow(/was replaced in the store while it was being read/);
  });
});
