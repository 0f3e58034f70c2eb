import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { S3StoreConfig } from '../../src/config/config.js';
import { BackupNotFoundError, SnapkeepError } from '../../src/errors.js';
import type { BackupStore } from '../../src/storage/backup-store.js';
import { createStore } from '../../src/storage/create-store.js';
import { LocalBackupStore } from '../../src/storage/local-store.js';
import { S3BackupStore, type S3StoreOptions } from '../../src/storage/s3-store.js';
import { startCephRgw, type TestCephRgw } from '../helpers/ceph-rgw.js';
import { startS3Server, storeConfigFor, type TestS3Server } from '../helpers/s3-server.js';

const MiB = 1024 * 1024;

/** Harness is one store under test, with what the contract needs to look behind its back. */
interface Harness {
  store: BackupStore;
  /** storeWith opens the same place with other tuning (small parts, pages, batches; S3 only). */
  storeWith(options: S3StoreOptions): BackupStore;
  /** putForeign writes an object beside the store's own, as another program would. */
  putForeign(name: string, bytes: Buffer): Promise<void>;
  /** leftovers names what a failed put may have left: temporary files, open multipart uploads. */
  leftovers(): Promise<string[]>;
  /** Every request the S3 server received (none for a directory). */
  requests: TestS3Server['requests'];
  cleanup(): Promise<void>;
}

/** TestServer is an S3 server the S3 store runs the contract against. */
type TestServer = TestS3Server | TestCephRgw;

let s3: TestS3Server;
let ceph: TestCephRgw;
// Ceph starts in about 5 s here; the explicit timeout leaves room for a loaded machine.
beforeAll(async () => {
  s3 = await startS3Server();
  ceph = await startCephRgw();
}, 180_000);
afterAll(async () => { await Promise.all([s3?.close(), ceph?.close()]); });

/**
 * The servers: s3rver in-process for speed, and Ceph RGW (one mon, one OSD, radosgw) as a
 * production-grade S3. Ceph checks what s3rver lets pass (Content-MD5 against the body).
 */
const servers: Array<{ name: string; server(): TestServer; checksContentMd5: boolean; listsPast1000: boolean }> = [
  // s3rver cannot list more than 1,000 keys under a prefix (s3rver-shims.ts, pageListings).
  { name: 's3rver', server: () => s3, checksContentMd5: false, listsPast1000: false },
  { name: 'Ceph RGW', server: () => ceph, checksContentMd5: true, listsPast1000: true },
];

/** configFor is the store's configuration for either server: storeConfigFor reads only what both have. */
function configFor(server: TestServer, prefix?: string): S3StoreConfig {
  return storeConfigFor(server as TestS3Server, prefix);
}

function rawClient(config: S3StoreConfig): S3Client {
  return new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: true,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const backends: Array<{ kind: 'local' | 's3'; name: string; listsPast1000: boolean; open(): Promise<Harness> }> = [
  {
    kind: 'local',
    name: 'local',
    listsPast1000: true,
    async open() {
      const root = await mkdtemp(join(tmpdir(), 'snapkeep-local-store-'));
      // A directory that does not exist yet: the store creates it on first use.
      const dir = join(root, 'backups');
      const store = new LocalBackupStore({ type: 'local', dir });
      return {
        store,
        storeWith: () => store,
        putForeign: async (name, bytes) => { await mkdir(dir, { recursive: true }); await writeFile(join(dir, name), bytes); },
        leftovers: async () => (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.partial')),
        requests: [],
        cleanup: () => rm(root, { recursive: true, force: true }),
      };
    },
  },
  ...servers.map(({ name, server, listsPast1000 }) => ({
    kind: 's3' as const,
    name: `s3 on ${name}`,
    listsPast1000,
    async open(): Promise<Harness> {
      const config = configFor(server());
      const client = rawClient(config);
      return {
        store: new S3BackupStore(config),
        storeWith: (options) => new S3BackupStore(config, options),
        putForeign: async (name, bytes) => {
          await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: config.prefix + name, Body: bytes }));
        },
        leftovers: async () => {
          const out = await client.send(new ListMultipartUploadsCommand({ Bucket: config.bucket, Prefix: config.prefix }));
          return (out.Uploads ?? []).map((upload) => `${upload.Key} (upload ${upload.UploadId})`);
        },
        requests: server().requests,
        cleanup: async () => client.destroy(),
      };
    },
  })),
];

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** inParallel runs task on every item, at most width at a time. */
async function inParallel<T>(items: T[], width: number, task: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
  }));
}

/** streamOf streams bytes in slices as a stream of unknown length, failing after failAfter bytes if given. */
function streamOf(bytes: Buffer, options: { failAfter?: number; slice?: number; onBytes?: (sent: number) => void } = {}): Readable {
  const slice = options.slice ?? 64 * 1024;
  async function* slices(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < bytes.length; offset += slice) {
      if (options.failAfter !== undefined && offset >= options.failAfter) throw new Error('the source failed midway');
      yield bytes.subarray(offset, offset + slice);
      options.onBytes?.(Math.min(offset + slice, bytes.length));
    }
  }
  return Readable.from(slices(), { objectMode: false });
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** rejection awaits a promise that must reject and returns what it rejected with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe.each(backends)('$name store contract', ({ kind, listsPast1000, open }) => {
  let h: Harness;
  beforeEach(async () => { h = await open(); });
  afterEach(async () => { await h.cleanup(); });

  it('put stores a small stream of unknown length; get, head and list see it', async () => {
    const bytes = randomBytes(300 * 1024 + 7);
    const progress: number[] = [];
    const metadata = { 'snapkeep-format': 'crbu1', 'snapkeep-key': 'ab12cd34' };
    const stored = await h.store.put('20260101T000000Z-0000abcd.crbu', streamOf(bytes), { metadata, onProgress: (n) => progress.push(n) });
    expect(stored).toMatchObject({ name: '20260101T000000Z-0000abcd.crbu', size: bytes.length });
    expect(progress.at(-1)).toBe(bytes.length);

    const fetched = await h.store.get('20260101T000000Z-0000abcd.crbu');
    expect(fetched.size).toBe(bytes.length);
    expect(fetched.metadata).toEqual(metadata);
    expect(sha256(await readAll(fetched.body))).toBe(sha256(bytes));

    const head = await h.store.head('20260101T000000Z-0000abcd.crbu');
    expect(head).toMatchObject({ name: '20260101T000000Z-0000abcd.crbu', size: bytes.length, metadata });
    expect(Math.abs(head.lastModified.getTime() - Date.now())).toBeLessThan(60_000);

    expect((await h.store.list()).map((o) => [o.name, o.size])).toEqual([['20260101T000000Z-0000abcd.crbu', bytes.length]]);
  });

  it('put of 40 MiB goes through several 5 MiB parts and comes back byte for byte', async () => {
    const bytes = randomBytes(40 * MiB + 12345);
    const store = h.storeWith({ partSize: 5 * MiB, queueSize: 4 });
    const progress: number[] = [];
    const stored = await store.put('big.crbu', streamOf(bytes), { metadata: { 'snapkeep-format': 'crbu1' }, onProgress: (n) => progress.push(n) });
    expect(stored.size).toBe(bytes.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(bytes.length);
    if (kind === 's3') expect(progress.length).toBeGreaterThanOrEqual(9); // one report per part

    const fetched = await store.get('big.crbu');
    expect(fetched.size).toBe(bytes.length);
    expect(fetched.metadata).toEqual({ 'snapkeep-format': 'crbu1' });
    expect(sha256(await readAll(fetched.body))).toBe(sha256(bytes));
    expect(await h.leftovers()).toEqual([]);
  });

  it('an empty body is an empty object', async () => {
    await h.store.put('empty.crbu', streamOf(Buffer.alloc(0)));
    const fetched = await h.store.get('empty.crbu');
    expect(fetched.size).toBe(0);
    expect(fetched.metadata).toEqual({});
    expect((await readAll(fetched.body)).length).toBe(0);
  });

  it('put replaces an object of the same name, metadata included', async () => {
    await h.store.put('same.crbu', streamOf(Buffer.from('first')), { metadata: { version: '1' } });
    await h.store.put('same.crbu', streamOf(Buffer.from('second!')));
    const fetched = await h.store.get('same.crbu');
    expect((await readAll(fetched.body)).toString()).toBe('second!');
    expect(fetched.metadata).toEqual({});
  });

  it('list returns every name with the prefix stripped, foreign ones too, across pages', async () => {
    const store = h.storeWith({ listPageSize: 2 });
    for (const name of ['b.crbu', 'a.crbu', 'c.tar.age']) await store.put(name, streamOf(randomBytes(10)));
    await h.putForeign('notes.txt', Buffer.from('not a backup'));
    const listed = await store.list();
    expect(listed.map((o) => o.name).sort()).toEqual(['a.crbu', 'b.crbu', 'c.tar.age', 'notes.txt']);
    expect(listed.find((o) => o.name === 'notes.txt')?.size).toBe(12);
    for (const object of listed) expect(object.lastModified).toBeInstanceOf(Date);
  });

  it('list of an empty store is empty', async () => {
    expect(await h.store.list()).toEqual([]);
  });

  // Not on s3rver, which cannot list more than 1,000 keys (servers, above); the directory and Ceph RGW can.
  if (listsPast1000) it('list returns every name past 1,000 (more than one S3 page), foreign ones mixed in, each once', async () => {
    // Foreign names sort between the store's own, so pages end in the middle of both.
    const own = Array.from({ length: 1_001 }, (_, i) => `20260101T${String(i).padStart(6, '0')}Z-0000abcd.crbu`);
    const foreign = Array.from({ length: 100 }, (_, i) => `20260101T${String(i * 10).padStart(6, '0')}Z-notes.txt`);
    await inParallel(own, 16, (name) => h.store.put(name, streamOf(Buffer.from(name))));
    await inParallel(foreign, 16, (name) => h.putForeign(name, Buffer.from('not a backup')));
    const listed = await h.store.list();
    expect(listed.map((o) => o.name).sort()).toEqual([...own, ...foreign].sort());
    expect(listed.find((o) => o.name === foreign[7])?.size).toBe(12);
    expect(listed.find((o) => o.name === own[1_000])?.size).toBe(own[1_000]!.length);
  });

  it('delete removes names in batches and ignores missing ones', async () => {
    const store = h.storeWith({ deleteBatchSize: 2 });
    const names = ['1.crbu', '2.crbu', '3.crbu', '4.crbu', '5.crbu'];
    for (const name of names) await store.put(name, streamOf(randomBytes(10)), { metadata: { n: name[0]! } });
    await store.delete(['1.crbu', 'never-existed.crbu', '3.crbu', '4.crbu', '5.crbu']);
    expect((await store.list()).map((o) => o.name)).toEqual(['2.crbu']);
    await store.delete([]);
    await expect(store.head('1.crbu')).rejects.toBeInstanceOf(BackupNotFoundError);
  });

  it('get and head of a missing name throw BackupNotFoundError', async () => {
    const got = await rejection(h.store.get('missing.crbu'));
    expect(got).toBeInstanceOf(BackupNotFoundError);
    expect(got).toMatchObject({ code: 'backup_not_found', retryable: false });
    await expect(h.store.head('missing.crbu')).rejects.toBeInstanceOf(BackupNotFoundError);
  });

  it.each([
    ['small', 200 * 1024, 100 * 1024],
    ['multipart', 20 * MiB, 12 * MiB],
  ])('a %s body that fails midway fails put, which leaves nothing behind', async (_label, size, failAfter) => {
    const store = h.storeWith({ partSize: 5 * MiB });
    const body = streamOf(randomBytes(size), { failAfter });
    const seen = h.requests.length;
    const error = await rejection(store.put('broken.crbu', body));
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('the source failed midway');
    if (kind === 's3' && size > 5 * MiB) {
      // The upload really was multipart, and really was aborted.
      const requests = h.requests.slice(seen).map((r) => `${r.method} ${r.url.replace(/uploadId=[^&]+/, 'uploadId=…').replace(/^\/[^/]+\/[^/]+\//, '/')}`);
      expect(requests).toContain('POST /broken.crbu?uploads=');
      expect(requests).toContain('DELETE /broken.crbu?uploadId=…&x-id=AbortMultipartUpload');
    }
    expect((await h.store.list()).map((o) => o.name)).not.toContain('broken.crbu');
    await expect(h.store.head('broken.crbu')).rejects.toBeInstanceOf(BackupNotFoundError);
    expect(await h.leftovers()).toEqual([]);
  });

  it('an aborted signal fails put, which leaves nothing behind', async () => {
    const store = h.storeWith({ partSize: 5 * MiB });
    const controller = new AbortController();
    const body = streamOf(randomBytes(30 * MiB), { onBytes: (sent) => { if (sent >= 11 * MiB) controller.abort(); } });
    const error = await rejection(store.put('aborted.crbu', body, { signal: controller.signal }));
    expect((error as Error).name).toBe('AbortError');
    expect(body.destroyed).toBe(true);
    expect((await h.store.list()).map((o) => o.name)).not.toContain('aborted.crbu');
    expect(await h.leftovers()).toEqual([]);
  });

  it('refuses names and metadata that not every store can keep', async () => {
    for (const name of ['', '../escape.crbu', 'a/b.crbu', '.hidden.crbu', 'x'.repeat(201)]) {
      const body = streamOf(randomBytes(1024));
      const error = await rejection(h.store.put(name, body));
      expect((error as Error).message).toMatch(/invalid object name/);
      // Released, not left for a producer to wait on forever.
      expect(body.errored).toBe(error);
    }
    await expect(h.store.get('../escape.crbu')).rejects.toThrow(/invalid object name/);
    await expect(h.store.put('ok.crbu', streamOf(Buffer.from('x')), { metadata: { Upper: 'x' } })).rejects.toThrow(/invalid metadata key/);
    await expect(h.store.put('ok.crbu', streamOf(Buffer.from('x')), { metadata: { key: 'é' } })).rejects.toThrow(/invalid metadata value/);
    expect(await h.store.list()).toEqual([]);
  });

  it('a producer piping into the body of a failed put fails with the same error', async () => {
    const body = new PassThrough();
    const producing = pipeline(streamOf(randomBytes(4 * MiB)), body);
    const error = await rejection(h.store.put('.refused.crbu', body));
    await expect(producing).rejects.toBe(error);
  });

  it('check passes', async () => {
    await h.store.check();
  });
});

describe.each(servers)('s3 store against $name', ({ server, checksContentMd5 }) => {
  it('lists nested keys under the prefix, and nothing under a sibling prefix', async () => {
    const config = configFor(server());
    const client = rawClient(config);
    const store = new S3BackupStore(config);
    await store.put('a.crbu', streamOf(Buffer.from('a')));
    for (const key of [`${config.prefix}sub/inner.crbu`, `${config.prefix.slice(0, -1)}-sibling/b.crbu`, 'top-level.crbu']) {
      await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: 'x' }));
    }
    expect((await store.list()).map((o) => o.name).sort()).toEqual(['a.crbu', 'sub/inner.crbu']);
    client.destroy();
  });

  it('sends Content-MD5 with DeleteObjects, as MinIO and the S3 spec require', async () => {
    const store = new S3BackupStore(configFor(server()));
    await store.put('x.crbu', streamOf(Buffer.from('x')));
    const seen = server().requests.length;
    await store.delete(['x.crbu']);
    const deletes = server().requests.slice(seen).filter((r) => r.method === 'POST' && r.url.includes('delete'));
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.headers['content-md5']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  });

  it('with contentMd5 (BACKUP_S3_CONTENT_MD5) sends the MD5 of the single put and of every part, and the objects come back', async () => {
    const config = { ...configFor(server()), contentMd5: true };
    const store = new S3BackupStore(config, { partSize: 5 * MiB });
    const small = randomBytes(64 * 1024);
    const large = randomBytes(11 * MiB + 3);
    const seen = server().requests.length;
    await store.put('small.crbu', streamOf(small), { metadata: { 'snapkeep-format': 'crbu1' } });
    await store.put('large.crbu', streamOf(large), { metadata: { 'snapkeep-format': 'crbu1' } });
    const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('base64');
    const uploads = server().requests.slice(seen).filter((r) => r.method === 'PUT');
    // One PutObject and three parts, which may arrive in any order.
    expect(uploads.map((r) => r.headers['content-md5']).sort()).toEqual(
      [small, large.subarray(0, 5 * MiB), large.subarray(5 * MiB, 10 * MiB), large.subarray(10 * MiB)].map(md5).sort(),
    );
    for (const [name, bytes] of [['small.crbu', small], ['large.crbu', large]] as const) {
      const fetched = await store.get(name);
      expect(fetched.metadata).toEqual({ 'snapkeep-format': 'crbu1' });
      expect(sha256(await readAll(fetched.body))).toBe(sha256(bytes));
    }
  });

  it(`${checksContentMd5 ? 'refuses' : 'accepts (it does not check)'} a Content-MD5 that does not match the body`, async () => {
    const config = configFor(server());
    const client = rawClient(config);
    const put = client.send(new PutObjectCommand({
      Bucket: config.bucket, Key: `${config.prefix}wrong-md5.crbu`, Body: 'the body', ContentMD5: createHash('md5').update('another body').digest('base64'),
    }));
    if (checksContentMd5) await expect(put).rejects.toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
    else await put;
    client.destroy();
  });

  it.each([
    ['a wrong secret key', { secretAccessKey: 'not-the-secret' }],
    ['an unknown access key', { accessKeyId: 'NOT-A-KEY' }],
  ])('%s fails with store_auth_failed, not retryable, naming no key', async (_label, override) => {
    const config = { ...configFor(server()), ...override };
    const store = new S3BackupStore(config);
    for (const attempt of [() => store.check(), () => store.list(), () => store.head('x.crbu'), () => store.get('x.crbu'), () => store.delete(['x.crbu'])]) {
      const error = await rejection(attempt());
      expect(error).toBeInstanceOf(SnapkeepError);
      expect(error).toMatchObject({ code: 'store_auth_failed', retryable: false });
      expect((error as Error).message).toContain('BACKUP_S3_SECRET_KEY');
      expect((error as Error).message).not.toContain(config.secretAccessKey);
      expect((error as Error).message).not.toContain(config.accessKeyId);
    }
    // put destroys an unfinished body with the same error, so a producer piping into it learns why.
    const body = streamOf(randomBytes(30 * MiB));
    const error = await rejection(new S3BackupStore(config, { partSize: 5 * MiB }).put('x.crbu', body));
    expect(error).toMatchObject({ code: 'store_auth_failed' });
    expect(body.destroyed).toBe(true);
    expect(body.errored).toBe(error);
  });

  it('a missing bucket fails with store_bucket_missing, not retryable', async () => {
    const store = new S3BackupStore({ ...configFor(server()), bucket: 'no-such-bucket' });
    for (const attempt of [() => store.check(), () => store.list(), () => store.put('x.crbu', streamOf(Buffer.from('x'))), () => store.get('x.crbu'), () => store.delete(['x.crbu'])]) {
      const error = await rejection(attempt());
      expect(error).toMatchObject({ code: 'store_bucket_missing', retryable: false });
      expect((error as Error).message).toBe('bucket "no-such-bucket" does not exist (check BACKUP_S3_BUCKET)');
    }
  });
});

describe('s3 store against s3rver only', () => {
  it('keeps the bytes intact on the server: no aws-chunked framing, no CRC headers', async () => {
    const config = storeConfigFor(s3);
    const store = new S3BackupStore(config, { partSize: 5 * MiB });
    const small = randomBytes(64 * 1024);
    const large = randomBytes(11 * MiB);
    const seen = s3.requests.length;
    await store.put('small.crbu', streamOf(small));
    await store.put('large.crbu', streamOf(large));
    for (const [name, bytes] of [['small.crbu', small], ['large.crbu', large]] as const) {
      const onDisk = await readFile(join(s3.directory, config.bucket, `${config.prefix}${name}._S3rver_object`));
      expect(onDisk.length).toBe(bytes.length);
      expect(sha256(onDisk)).toBe(sha256(bytes));
    }
    const uploads = s3.requests.slice(seen).filter((r) => r.method === 'PUT');
    expect(uploads.length).toBe(4); // one PutObject, three UploadPart
    for (const request of uploads) {
      expect(request.headers['content-encoding'] ?? '').not.toContain('aws-chunked');
      expect(Object.keys(request.headers).filter((h) => h.startsWith('x-amz-checksum-'))).toEqual([]);
    }
  });

  it('refuses a part size S3 would refuse', () => {
    expect(() => new S3BackupStore(storeConfigFor(s3), { partSize: MiB })).toThrow(/at least 5 MiB/);
  });

  it('describes itself without the endpoint or credentials', () => {
    const config = { ...storeConfigFor(s3, 'backups/'), accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'shh-secret' };
    const store = createStore(config);
    expect(store.description).toBe(`s3 bucket "${s3.bucket}" prefix "backups/"`);
    expect(store.description).not.toContain('127.0.0.1');
  });

  it('a stopped server fails with store_unavailable, retryable, in bounded time', async () => {
    const gone = await startS3Server();
    const store = new S3BackupStore(storeConfigFor(gone));
    await store.put('x.crbu', streamOf(Buffer.from('x')));
    await gone.close();
    const started = Date.now();
    for (const attempt of [() => store.check(), () => store.list(), () => store.get('x.crbu'), () => store.put('y.crbu', streamOf(randomBytes(1024)))]) {
      const error = await rejection(attempt());
      expect(error).toMatchObject({ code: 'store_unavailable', retryable: true });
      expect((error as Error).message).toBe('the S3 store is unreachable: connection refused');
    }
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a server that accepts and never answers fails with store_unavailable within the idle timeout', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => { sockets.add(socket); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const store = new S3BackupStore({ ...storeConfigFor(s3), endpoint: `http://127.0.0.1:${port}` }, { idleTimeoutMs: 300, maxAttempts: 2 });
      const started = Date.now();
      const error = await rejection(store.check());
      expect(error).toMatchObject({ code: 'store_unavailable', retryable: true, message: 'the S3 store is unreachable: timed out' });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('local store on disk', () => {
  let root: string;
  beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'snapkeep-local-')); });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  it('creates its directory 0700 and writes files and sidecars 0600', async () => {
    const dir = join(root, 'backups');
    const store = createStore({ type: 'local', dir });
    await store.check();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    await store.put('a.crbu', streamOf(randomBytes(100)), { metadata: { k: 'v' } });
    expect((await stat(join(dir, 'a.crbu'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, '.a.crbu.meta.json'))).mode & 0o777).toBe(0o600);
    expect(store.description).toBe(`directory "${dir}"`);
  });

  it('lists only visible regular files: no temporary files, sidecars or subdirectories', async () => {
    const store = new LocalBackupStore({ type: 'local', dir: root });
    await store.put('a.crbu', streamOf(randomBytes(10)), { metadata: { k: 'v' } });
    await writeFile(join(root, '.b.crbu.123.partial'), 'half');
    await mkdir(join(root, 'sub'));
    await writeFile(join(root, 'sub', 'c.crbu'), 'nested');
    expect((await store.list()).map((o) => o.name)).toEqual(['a.crbu']);
    await store.delete(['a.crbu']);
    expect((await readdir(root)).sort()).toEqual(['.b.crbu.123.partial', 'sub']);
  });

  it('a path that is a file fails check with store_unavailable', async () => {
    await writeFile(join(root, 'file'), 'x');
    const store = new LocalBackupStore({ type: 'local', dir: join(root, 'file') });
    await expect(store.check()).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(store.list()).rejects.toMatchObject({ code: 'store_unavailable' });
  });
});
