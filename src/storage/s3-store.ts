import { addAbortSignal, Readable } from 'node:stream';
import type { S3Client, S3ClientConfig, _Error as S3KeyError } from '@aws-sdk/client-s3';
import type { S3StoreConfig } from '../config/config.js';
import { SnapkeepError, coerceError } from '../errors.js';
import type { BackupStore, FetchedObject, PutOptions, StoredObject } from './backup-store.js';
import { checkMetadata, checkObjectName } from './check-object.js';
import { guardBody } from './guard-body.js';
import { rangedBody, totalFromContentRange } from './s3-ranged-download.js';
import { translateS3Error } from './s3-errors.js';
import { loadS3Sdk, type S3Sdk } from './s3-sdk.js';
import type { uploadToS3 } from './s3-upload.js';

/** S3StoreOptions tune an S3BackupStore; the defaults suit backups of a few GB over an ordinary link. */
export interface S3StoreOptions {
  /**
   * Multipart part size in bytes, at least 5 MiB (default 8 MiB); a put holds queueSize part buffers.
   * A put whose expectedSize needs more than 9,000 parts uses larger ones.
   */
  partSize?: number;
  /** Parts uploaded in parallel, at most (default 3). */
  queueSize?: number;
  /** How long to wait for a TCP (and TLS) connection. */
  connectionTimeoutMs?: number;
  /** How long a request may go without a byte moving either way before it fails (a dead server). */
  idleTimeoutMs?: number;
  /** Attempts per request, the first included (the SDK's standard retry, exponential backoff). */
  maxAttempts?: number;
  /** Keys per ListObjectsV2 page, at most 1000. */
  listPageSize?: number;
  /** Keys per DeleteObjects request, at most 1000. */
  deleteBatchSize?: number;
  /**
   * Bytes per ranged GET when reading an object (default: partSize); ranges in flight are queueSize.
   * Tests make it small to get many ranges of a small object.
   */
  downloadPartSize?: number;
  /** Told when a failed upload cannot be aborted either (a bucket lifecycle rule must remove it). */
  logger?: { warn(message: string, meta?: Record<string, unknown>): void };
}

const MiB = 1024 * 1024;
// S3 allows 10,000 parts; a hinted size is spread over at most this many, leaving room for error.
const MAX_HINTED_PARTS = 9_000;
// Failed uploads remembered for another abort; past this many, only the bucket's lifecycle rule helps.
const MAX_UNABORTED = 100;

/**
 * S3BackupStore keeps backups as objects under a prefix of an S3-compatible bucket. Uploads stream
 * as a multipart upload (s3-upload.ts), so an object appears only once complete; a failed upload is
 * aborted before put rejects.
 */
export class S3BackupStore implements BackupStore {
  readonly description: string;
  private readonly clientConfig: S3ClientConfig;
  private readonly contentMd5: boolean;
  /** The SDK, its client and the uploader, once loaded (s3-sdk.ts): the constructor starts loading them. */
  private connection: Promise<{ sdk: S3Sdk; client: S3Client; upload: typeof uploadToS3 }> | undefined;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly downloadPartSize: number;
  private readonly listPageSize: number;
  private readonly deleteBatchSize: number;
  private readonly logger: S3StoreOptions['logger'];
  /**
   * Failed uploads whose abort failed too (the store was down), by upload id: aborted after the next
   * successful upload, so that a retried backup leaves no open upload behind once the store is back.
   */
  private readonly unaborted = new Map<string, string>();

  constructor(config: S3StoreConfig, options: S3StoreOptions = {}) {
    this.bucket = config.bucket;
    this.prefix = config.prefix;
    // Measured with `npm run bench` (docs/benchmarks.md): a put holds queueSize × partSize of part
    // buffers. 8 MiB (the AWS CLI's part size) × 3 kept `backup create` near 140 MiB and uploaded a
    // GiB about as fast as 4 or 8 parts at once against s3rver; 2 parts were slower. Every part
    // costs the server a request (s3rver spent about 0.5 s more CPU per GiB on 6 MiB parts).
    this.partSize = options.partSize ?? 8 * MiB;
    // S3 refuses parts under 5 MiB (but the last); say so now, not at the first large put.
    if (this.partSize < 5 * MiB) throw new RangeError(`partSize must be at least 5 MiB, not ${this.partSize} bytes`);
    this.queueSize = options.queueSize ?? config.partConcurrency ?? 3;
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) throw new RangeError(`queueSize must be a positive integer, not ${this.queueSize}`);
    this.downloadPartSize = options.downloadPartSize ?? this.partSize;
    this.listPageSize = Math.min(options.listPageSize ?? 1000, 1000);
    this.deleteBatchSize = Math.min(options.deleteBatchSize ?? 1000, 1000);
    this.logger = options.logger;
    this.contentMd5 = config.contentMd5 ?? false;
    this.description = `s3 bucket "${config.bucket}" prefix "${config.prefix}"`;
    this.clientConfig = {
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      // The SDK's default CRC checksums make a streamed body aws-chunked, which many S3-compatible
      // servers reject or store verbatim inside the object (STACK.md).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // With `Expect: 100-continue` (the SDK's default for bodies of 2 MB and more) the SDK's HTTP
      // handler opens a new connection, without keep-alive, for every part: a TCP and TLS handshake
      // per 8 MiB. Without it the parts reuse the client's connections; a refused part costs its
      // body sent for nothing, once, before the upload fails.
      expectContinueHeader: false,
      maxAttempts: options.maxAttempts ?? 3,
      // Options, not an instance: the SDK builds its own NodeHttpHandler, so we import no package we
      // do not declare. socketTimeout is an idle timeout, so a long upload or download is never cut
      // short while bytes flow; requestTimeout would only warn unless throwOnRequestTimeout is set.
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 5_000,
        socketTimeout: options.idleTimeoutMs ?? 30_000,
      },
    };
    // Started now, so that a backup loads the SDK while its snapshot runs. A failed load surfaces at
    // the first call, as that call's error, not as an unhandled rejection now.
    this.connect().catch(() => undefined);
  }

  /** connect loads the SDK and makes the client once; a failed load is tried again by the next call. */
  private connect(): Promise<{ sdk: S3Sdk; client: S3Client; upload: typeof uploadToS3 }> {
    this.connection ??= Promise.all([loadS3Sdk(), import('./s3-upload.js')])
      .then(([sdk, { uploadToS3: upload }]) => ({ sdk, client: new sdk.S3Client(this.clientConfig), upload }))
      .catch((error: unknown) => {
        this.connection = undefined;
        throw error;
      });
    return this.connection;
  }

  async put(name: string, body: Readable, options: PutOptions = {}): Promise<StoredObject> {
    const guarded = guardBody(body, options.signal);
    const key = this.prefix + name;
    let uploadId: string | undefined;
    try {
      checkObjectName(name);
      checkMetadata(options.metadata);
      options.signal?.throwIfAborted();
      const { client, upload } = await this.connect();
      const size = await upload(guarded.chunks, {
        client,
        bucket: this.bucket,
        key,
        ...(options.metadata ? { metadata: options.metadata } : {}),
        partSize: this.partSizeFor(options.expectedSize),
        queueSize: this.queueSize,
        ...(this.contentMd5 ? { contentMd5: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        onUploadId: (id) => { uploadId = id; },
      });
      // The store answers again: now the uploads that failed while it was away can be aborted.
      await this.retryUnabortedUploads();
      return { name, size, lastModified: new Date() };
    } catch (error) {
      const failure = guarded.error ?? translateS3Error(error, { bucket: this.bucket, name });
      // Every failure, a refused name included, must release the body: a producer piping into it
      // would otherwise wait on backpressure forever (and, first, not for the abort below).
      guarded.fail(failure);
      await this.abortUpload(key, uploadId);
      throw failure;
    }
  }

  /**
   * get reads an object: its first part-size range at once, and for a larger object the rest as
   * ranges, part concurrency at a time (s3-ranged-download.ts), each bound to the first's ETag.
   */
  async get(name: string, options: { signal?: AbortSignal } = {}): Promise<FetchedObject> {
    checkObjectName(name);
    const where = { bucket: this.bucket, name };
    try {
      const { sdk, client } = await this.connect();
      const Key = this.prefix + name;
      const send = options.signal ? { abortSignal: options.signal } : {};
      const out = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key, Range: `bytes=0-${this.downloadPartSize - 1}` }), send)
        // An empty object has no byte 0 (416 InvalidRange): read it whole.
        .catch((error: unknown) => {
          if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 416) throw error;
          return client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key }), send);
        });
      if (!(out.Body instanceof Readable)) throw new SnapkeepError('internal', 'the S3 client returned a body that is not a Node stream');
      const metadata = out.Metadata ?? {};
      const total = totalFromContentRange(out.ContentRange);
      if (total === 0) {
        // An empty object answered as `bytes 0-0/0` (s3rver does; S3 answers 416): there is nothing to read.
        out.Body.destroy();
        return { body: Readable.from([]), size: 0, metadata };
      }
      if (total === undefined || out.ContentLength === undefined || total <= out.ContentLength) {
        // All of it in one answer: a small object, or a server that ignored the range.
        const body = options.signal ? addAbortSignal(options.signal, out.Body) : out.Body;
        // A server that streams without Content-Length leaves the size to a HEAD (restores need it).
        const size = total ?? out.ContentLength ?? (await this.head(name)).size;
        return { body, size, metadata };
      }
      const etag = out.ETag;
      const fetchRange = async (start: number, end: number, signal: AbortSignal): Promise<Buffer[]> => {
        try {
          const part = await client.send(new sdk.GetObjectCommand({
            Bucket: this.bucket, Key, Range: `bytes=${start}-${end}`, ...(etag ? { IfMatch: etag } : {}),
          }), { abortSignal: signal });
          const body = part.Body as Readable;
          // The bucket's server is not trusted: a range from elsewhere, or a body longer than the
          // range (read whole, it could fill the memory, `concurrency` times over), fails the
          // restore here, before anything is held. (The GCM tag would catch wrong bytes anyway.)
          const wanted = `bytes ${start}-${end}/${total}`;
          if (part.ContentRange !== wanted) {
            body.destroy();
            throw new SnapkeepError('truncated', `the store answered a range request for ${wanted} with ${part.ContentRange ?? 'no Content-Range'}`, { retryable: true });
          }
          const length = end - start + 1;
          const chunks: Buffer[] = [];
          let received = 0;
          for await (const chunk of body) {
            received += (chunk as Buffer).length;
            if (received > length) {
              body.destroy();
              throw new SnapkeepError('truncated', `a range of the object came back with more than ${length} bytes`, { retryable: true });
            }
            chunks.push(chunk as Buffer);
          }
          return chunks;
        } catch (error) {
          if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) {
            throw new SnapkeepError('store_unavailable', `backup ${name} was replaced in the store while it was being read; try again`, { retryable: true });
          }
          throw translateS3Error(error, where);
        }
      };
      const body = rangedBody(out.Body, {
        firstLength: out.ContentLength, total, partSize: this.downloadPartSize, concurrency: this.queueSize, fetchRange,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return { body, size: total, metadata };
    } catch (error) {
      throw translateS3Error(error, where);
    }
  }

  async head(name: string): Promise<StoredObject & { metadata: Record<string, string> }> {
    checkObjectName(name);
    try {
      const { sdk, client } = await this.connect();
      const out = await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + name }));
      return { name, size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0), metadata: out.Metadata ?? {} };
    } catch (error) {
      throw translateS3Error(error, { bucket: this.bucket, name });
    }
  }

  async list(): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    let token: string | undefined;
    try {
      const { sdk, client } = await this.connect();
      do {
        const page = await client.send(new sdk.ListObjectsV2Command({
          Bucket: this.bucket, Prefix: this.prefix, MaxKeys: this.listPageSize, ContinuationToken: token,
        }));
        for (const item of page.Contents ?? []) {
          // The prefix itself is a "folder" some consoles create: no name, no object.
          if (!item.Key?.startsWith(this.prefix) || item.Key.length === this.prefix.length) continue;
          objects.push({ name: item.Key.slice(this.prefix.length), size: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0) });
        }
        const next = page.IsTruncated ? page.NextContinuationToken : undefined;
        // A truncated page without a new token would end (or loop) the listing early: never partial.
        if (page.IsTruncated && (!next || next === token)) {
          throw new SnapkeepError('listing_incomplete', 'the S3 store cut the listing short (a truncated page without a continuation token)', { retryable: true });
        }
        token = next;
      } while (token);
    } catch (error) {
      throw translateS3Error(error, { bucket: this.bucket });
    }
    return objects;
  }

  async delete(names: string[]): Promise<void> {
    names.forEach(checkObjectName);
    for (let start = 0; start < names.length; start += this.deleteBatchSize) {
      const batch = names.slice(start, start + this.deleteBatchSize);
      let errors: S3KeyError[];
      try {
        const { sdk, client } = await this.connect();
        const out = await client.send(new sdk.DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((name) => ({ Key: this.prefix + name })), Quiet: true },
          // MinIO, Ceph and the S3 spec require Content-MD5 here; the SDK would send only a CRC32.
          ChecksumAlgorithm: 'MD5',
        }));
        errors = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      } catch (error) {
        throw translateS3Error(error, { bucket: this.bucket });
      }
      const first = errors[0];
      if (first) {
        // A 200 answer can still refuse some keys: each carries its own S3 error code.
        const perKey = Object.assign(new Error(`${errors.length} of ${batch.length} deletes failed, first ${first.Key}: ${first.Code}`), {
          name: first.Code ?? 'InternalError', $metadata: {},
        });
        throw translateS3Error(perKey, { bucket: this.bucket });
      }
    }
  }

  async check(): Promise<void> {
    try {
      const { sdk, client } = await this.connect();
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw translateS3Error(error, { bucket: this.bucket });
    }
  }

  /** keyOf is the object's full key in the bucket: BACKUP_S3_PREFIX and the name. */
  keyOf(name: string): string {
    return this.prefix + name;
  }

  /** partSizeFor is the configured part size, or a larger one (whole MiB) when the hinted size needs it. */
  private partSizeFor(expectedSize: number | undefined): number {
    if (expectedSize === undefined || !Number.isFinite(expectedSize) || expectedSize <= 0) return this.partSize;
    return Math.max(this.partSize, Math.ceil(expectedSize / MAX_HINTED_PARTS / MiB) * MiB);
  }

  /** abortUpload removes a failed multipart upload's parts; without it the bucket bills for them. */
  private async abortUpload(key: string, uploadId: string | undefined): Promise<void> {
    if (uploadId === undefined) return;
    try {
      const { sdk, client } = await this.connect();
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      if ((error as { name?: string }).name !== 'NoSuchUpload') {
        if (!this.unaborted.has(uploadId)) {
          this.logger?.warn('could not abort a failed multipart upload; it is tried again after the next successful upload (a bucket lifecycle rule must remove it if this process stops first)', {
            bucket: this.bucket, key, uploadId, error: coerceError(error).message,
          });
        }
        // Bounded: a store down for days must not grow this without end; the lifecycle rule is the backstop.
        if (this.unaborted.size < MAX_UNABORTED) this.unaborted.set(uploadId, key);
        return;
      }
    }
    this.unaborted.delete(uploadId);
  }

  /** retryUnabortedUploads aborts, once more, the failed uploads that could not be aborted at the time. */
  private async retryUnabortedUploads(): Promise<void> {
    for (const [uploadId, key] of [...this.unaborted]) await this.abortUpload(key, uploadId);
  }
}
