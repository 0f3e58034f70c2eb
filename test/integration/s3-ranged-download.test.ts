import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

  /**
   * The bucket's server lies about a later range (the first passes untouched): an HTTP proxy in
   * front of s3rver that rewrites that answer, as an intruder holding the server could.
   */
  async function lyingServer(lie: (res: IncomingMessage, body: Buffer, out: ServerResponse) => void): Promise<{ endpoint: string; close(): Promise<void> }> {
    const upstream = new URL(s3.endpoint);
    const server: Server = createServer((req, out) => {
      const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          if (req.method === 'GET' && req.headers.range && !req.headers.range.startsWith('bytes=0-')) { lie(res, body, out); return; }
          out.writeHead(res.statusCode ?? 502, res.headers);
          out.end(body);
        });
      });
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
  }

  it('refuses a range the server says is another part of the object, before reading it', async () => {
    const liar = await lyingServer((res, body, out) => {
      const [, from, to, total] = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers['content-range']))!;
      out.writeHead(206, { ...res.headers, 'content-range': `bytes ${Number(from) + 1}-${Number(to) + 1}/${total}` });
      out.end(body);
    });
    try {
      const store = new S3BackupStore({ ...storeConfigFor(s3), endpoint: liar.endpoint }, { downloadPartSize: 64 * KiB, queueSize: 2 });
      await store.put('shifted.crbu', Readable.from([randomBytes(256 * KiB)]));
      const got = await store.get('shifted.crbu');
      await expect(read(got.body)).rejects.toThrow(/answered a range request for bytes 65536-131071\/262144 with bytes 65537-131072\/262144/);
    } finally {
      await liar.close();
    }
  });

  it('stops reading a range whose body is longer than the range, instead of holding all of it', async () => {
    const liar = await lyingServer((res, body, out) => {
      const extra = Buffer.alloc(4 * 1024 * KiB, 1);
      out.writeHead(206, { ...res.headers, 'content-length': String(body.length + extra.length) });
      out.end(Buffer.concat([body, extra]));
    });
    try {
      const store = new S3BackupStore({ ...storeConfigFor(s3), endpoint: liar.endpoint }, { downloadPartSize: 64 * KiB, queueSize: 2 });
      await store.put('long.crbu', Readable.from([randomBytes(256 * KiB)]));
      const got = await store.get('long.crbu');
      await expect(read(got.body)).rejects.toThrow(/a range of the object came back with more than 65536 bytes/);
    } finally {
      await liar.close();
    }
  });
});
