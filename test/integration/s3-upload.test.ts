import { createHash, randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3StoreConfig } from '../../src/config/config.js';
import { uploadToS3 } from '../../src/storage/s3-upload.js';
import { s3ClientFor } from '../helpers/s3-inspect.js';
import { startS3Server, storeConfigFor, type TestS3Server } from '../helpers/s3-server.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

let s3: TestS3Server;
let config: S3StoreConfig;
beforeAll(async () => {
  s3 = await startS3Server();
  config = storeConfigFor(s3);
});
afterAll(async () => { await s3?.close(); });

/** Watch counts UploadPart requests as the client sends them: how many at once, how many in all. */
interface Watch { client: S3Client; maxParts: number; partsStarted: number; partsEndedAfter: (time: number) => number }

function watchedClient(options: { failPart?: number; createDelayMs?: number; dropETags?: boolean } = {}): Watch {
  const client = s3ClientFor(s3);
  let inFlight = 0;
  const ends: number[] = [];
  const watch: Watch = { client, maxParts: 0, partsStarted: 0, partsEndedAfter: (time) => ends.filter((t) => t > time).length };
  client.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'CreateMultipartUploadCommand' && options.createDelayMs) {
      // A slow store: the upload exists only once the answer comes.
      await new Promise((resolve) => setTimeout(resolve, options.createDelayMs));
    }
    if (context.commandName !== 'UploadPartCommand') return next(args);
    if (options.dropETags) {
      // A proxy that strips the ETag header from the answer.
      const result = await next(args);
      delete (result.output as { ETag?: string }).ETag;
      return result;
    }
    const input = args.input as { PartNumber?: number };
    watch.partsStarted += 1;
    inFlight += 1;
    watch.maxParts = Math.max(watch.maxParts, inFlight);
    try {
      if (input.PartNumber === options.failPart) {
        // Slower than its siblings, so that they are still in flight or done when it fails.
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw Object.assign(new Error('part refused by the test'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
      }
      return await next(args);
    } finally {
      inFlight -= 1;
      ends.push(performance.now());
    }
  }, { step: 'initialize', name: 'watchParts' });
  return watch;
}

/** chunksOf hands bytes on in slices of an odd size, so that part boundaries fall inside chunks. */
async function* chunksOf(bytes: Buffer, slice = 777 * 1024): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += slice) yield bytes.subarray(offset, offset + slice);
}

async function fetchObject(client: S3Client, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: config.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

const digest = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('uploadToS3', () => {
  it.each([
    ['empty', 0, 0],
    ['one byte short of a part', PART - 1, 0],
    ['exactly one part', PART, 0],
    ['one byte over a part', PART + 1, 2],
    ['exactly two parts', 2 * PART, 2],
    ['two parts and a byte', 2 * PART + 1, 3],
  ])('%s: stores every byte, as one PutObject or as parts of the part size', async (label, size, parts) => {
    const watch = watchedClient();
    const bytes = randomBytes(size);
    const key = `${config.prefix}${label.replace(/ /g, '-')}.crbu`;
    const progress: number[] = [];
    const stored = await uploadToS3(chunksOf(bytes), {
      client: watch.client, bucket: config.bucket, key, partSize: PART, queueSize: 2,
      metadata: { 'snapkeep-format': 'crbu1' }, onProgress: (n) => progress.push(n),
    });
    expect(stored).toBe(size);
    expect(watch.partsStarted).toBe(parts);
    expect(progress.at(-1)).toBe(size);
    expect(digest(await fetchObject(watch.client, key))).toBe(digest(bytes));
    watch.client.destroy();
  });

  it('keeps at most queueSize parts in flight, and uses them', async () => {
    const watch = watchedClient();
    const bytes = randomBytes(8 * PART + 123);
    const key = `${config.prefix}bounded.crbu`;
    await uploadToS3(chunksOf(bytes), { client: watch.client, bucket: config.bucket, key, partSize: PART, queueSize: 3 });
    expect(watch.partsStarted).toBe(9);
    expect(watch.maxParts).toBeLessThanOrEqual(3);
    expect(watch.maxParts).toBeGreaterThanOrEqual(2);
    expect(digest(await fetchObject(watch.client, key))).toBe(digest(bytes));
    watch.client.destroy();
  });

  it('a refused part fails the upload with its error, stops sending parts, and settles every part before it rejects', async () => {
    const watch = watchedClient({ failPart: 3 });
    const key = `${config.prefix}refused.crbu`;
    let uploadId: string | undefined;
    const error = await uploadToS3(chunksOf(randomBytes(12 * PART)), {
      client: watch.client, bucket: config.bucket, key, partSize: PART, queueSize: 3, onUploadId: (id) => { uploadId = id; },
    }).then(() => undefined, (e: unknown) => e);
    const rejectedAt = performance.now();
    expect((error as Error).message).toBe('part refused by the test');
    expect(uploadId).toBeDefined();
    // Part 3 failed while at most 3 + 1 buffers were filled: the other 8 parts were never sent.
    expect(watch.partsStarted).toBeLessThanOrEqual(6);
    // Nothing was still arriving at the store once the caller could abort.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(watch.partsEndedAfter(rejectedAt)).toBe(0);

    await watch.client.send(new AbortMultipartUploadCommand({ Bucket: config.bucket, Key: key, UploadId: uploadId }));
    const open = await watch.client.send(new ListMultipartUploadsCommand({ Bucket: config.bucket, Prefix: key }));
    expect(open.Uploads ?? []).toEqual([]);
    await expect(fetchObject(watch.client, key)).rejects.toThrow();
    watch.client.destroy();
  });

  it('a part answered without an ETag fails the upload with that reason', async () => {
    const watch = watchedClient({ dropETags: true });
    const key = `${config.prefix}no-etag.crbu`;
    let uploadId: string | undefined;
    await expect(uploadToS3(chunksOf(randomBytes(3 * PART)), {
      client: watch.client, bucket: config.bucket, key, partSize: PART, queueSize: 2, onUploadId: (id) => { uploadId = id; },
    })).rejects.toThrow(/without an ETag/);
    await watch.client.send(new AbortMultipartUploadCommand({ Bucket: config.bucket, Key: key, UploadId: uploadId }));
    watch.client.destroy();
  });

  it('an abort while the multipart upload is being created still reports its id, so the caller can abort it', async () => {
    const watch = watchedClient({ createDelayMs: 300 });
    const key = `${config.prefix}aborted-early.crbu`;
    const controller = new AbortController();
    let uploadId: string | undefined;
    const uploading = uploadToS3(chunksOf(randomBytes(2 * PART + 1)), {
      client: watch.client, bucket: config.bucket, key, partSize: PART, queueSize: 2,
      signal: controller.signal, onUploadId: (id) => { uploadId = id; },
    });
    setTimeout(() => controller.abort(), 50);
    await expect(uploading).rejects.toMatchObject({ name: 'AbortError' });
    expect(uploadId).toBeDefined();
    expect(watch.partsStarted).toBe(0);
    await watch.client.send(new AbortMultipartUploadCommand({ Bucket: config.bucket, Key: key, UploadId: uploadId }));
    const open = await watch.client.send(new ListMultipartUploadsCommand({ Bucket: config.bucket, Prefix: key }));
    expect(open.Uploads ?? []).toEqual([]);
    watch.client.destroy();
  });

  it('a failed part fails the upload without waiting for the next chunk of a stalled body', async () => {
    const watch = watchedClient({ failPart: 1 });
    // Two parts' worth, then a body that never gives another byte (a stalled producer): without
    // the failure cutting in, this test would time out.
    async function* stalledAfterTwoParts(): AsyncGenerator<Buffer> {
      yield randomBytes(2 * PART + 1);
      await new Promise(() => undefined);
    }
    await expect(uploadToS3(stalledAfterTwoParts(), {
      client: watch.client, bucket: config.bucket, key: `${config.prefix}stalled.crbu`, partSize: PART, queueSize: 2,
    })).rejects.toThrow('part refused by the test');
    watch.client.destroy();
  });

  it('a progress callback that throws neither fails the upload nor escapes as an unhandled rejection', async () => {
    const watch = watchedClient();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      const bytes = randomBytes(3 * PART);
      const key = `${config.prefix}progress-throws.crbu`;
      const stored = await uploadToS3(chunksOf(bytes), {
        client: watch.client, bucket: config.bucket, key, partSize: PART, queueSize: 2,
        onProgress: () => { throw new Error('a broken progress bar'); },
      });
      expect(stored).toBe(bytes.length);
      expect(digest(await fetchObject(watch.client, key))).toBe(digest(bytes));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      watch.client.destroy();
    }
  });

  it('with contentMd5, sends the MD5 of each part as Content-MD5 (Object Lock buckets refuse uploads without it)', async () => {
    const watch = watchedClient();
    const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('base64');
    for (const [label, size] of [['multipart', 2 * PART + 7], ['single', 1000]] as const) {
      const bytes = randomBytes(size);
      const key = `${config.prefix}md5-${label}.crbu`;
      const seen = s3.requests.length;
      await uploadToS3(chunksOf(bytes), { client: watch.client, bucket: config.bucket, key, partSize: PART, queueSize: 2, contentMd5: true });
      const puts = s3.requests.slice(seen).filter((r) => r.method === 'PUT' && r.url.includes(`/md5-${label}.crbu`));
      const expected = label === 'multipart'
        ? [md5(bytes.subarray(0, PART)), md5(bytes.subarray(PART, 2 * PART)), md5(bytes.subarray(2 * PART))]
        : [md5(bytes)];
      expect(puts.map((r) => r.headers['content-md5']).sort()).toEqual(expected.sort());
      expect(digest(await fetchObject(watch.client, key))).toBe(digest(bytes));
    }
    watch.client.destroy();
  });

  it('a Complete whose answer is lost and whose retry finds the upload gone reports the stored object, not a failure', async () => {
    const watch = watchedClient();
    let lost = 0;
    // Inside the SDK's retry loop: the store completes the upload, the answer never arrives.
    watch.client.middlewareStack.add((next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'CompleteMultipartUploadCommand' && lost === 0) {
        lost += 1;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $metadata: {} });
      }
      return result;
    }, { step: 'deserialize', name: 'loseCompleteAnswer' });
    const bytes = randomBytes(2 * PART + 3);
    const key = `${config.prefix}lost-answer.crbu`;
    const stored = await uploadToS3(chunksOf(bytes), { client: watch.client, bucket: config.bucket, key, partSize: PART, queueSize: 2 });
    expect(lost).toBe(1);
    expect(stored).toBe(bytes.length);
    expect(digest(await fetchObject(watch.client, key))).toBe(digest(bytes));
    watch.client.destroy();
  });

  it('holds on to no chunk once it is copied, so memory stays flat however long the body', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const watch = watchedClient();
    const refs: Array<WeakRef<Buffer>> = [];
    let stillHeld = -1;
    async function* body(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 60; i++) {
        const chunk = randomBytes(256 * 1024);
        refs.push(new WeakRef(chunk));
        yield chunk;
      }
      // Mid-upload (the last part is not sent yet): the chunks before are copied into part
      // buffers and must be garbage by now.
      for (let round = 0; round < 3; round++) {
        await new Promise((resolve) => setImmediate(resolve));
        gc();
      }
      stillHeld = refs.slice(0, 50).filter((ref) => ref.deref() !== undefined).length;
    }
    await uploadToS3(body(), { client: watch.client, bucket: config.bucket, key: `${config.prefix}flat.crbu`, partSize: PART, queueSize: 2 });
    expect(stillHeld).toBe(0);
    watch.client.destroy();
  });
});
