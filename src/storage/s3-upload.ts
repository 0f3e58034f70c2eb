import { createHash } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { SnapkeepError } from '../errors.js';
import { PartBufferPool } from './part-buffer-pool.js';

const MiB = 1024 * 1024;
// S3's limit of parts in one multipart upload.
const MAX_PARTS = 10_000;

/** S3UploadParams say where an upload goes and how it is cut. */
export interface S3UploadParams {
  client: S3Client;
  bucket: string;
  key: string;
  metadata?: Record<string, string>;
  /** Bytes per part (the last may be smaller); a body that fits in one part is a single PutObject. */
  partSize: number;
  /** Parts uploaded at once, at most; the upload holds this many part buffers. */
  queueSize: number;
  /** Send each part's (or the single put's) MD5 as Content-MD5, which Object Lock buckets require. */
  contentMd5?: boolean;
  signal?: AbortSignal;
  /** Told the number of body bytes stored so far, after each part. */
  onProgress?: (bytesStored: number) => void;
  /** Told the multipart upload's id as soon as it exists, so that a failed upload can be aborted. */
  onUploadId?: (uploadId: string) => void;
}

/**
 * uploadToS3 stores a stream of chunks as one object and resolves with its size. The object is
 * visible only once complete: a single PutObject, or a multipart upload completed after its last
 * part. Each part is copied once, from the chunk into one of a few part buffers reused for the
 * whole upload, and sent from there (a Buffer body, so the SDK signs its SHA-256 and can resend it
 * on a retry). On failure it rejects once no part is in flight any more, leaving the abort of the
 * multipart upload (onUploadId) to the caller.
 *
 * lib-storage's Upload did this job before; it concatenated every part out of the stream's chunks
 * into a fresh buffer (plus a slice of the next part kept alive with it), which cost a backup about
 * 4 parts of memory in garbage and a copy per byte on top of this one (docs/benchmarks.md).
 */
export async function uploadToS3(chunks: AsyncIterable<Buffer>, params: S3UploadParams): Promise<number> {
  const { client, bucket, key, partSize } = params;
  // Each part in flight holds its buffer until the store has it, so the pool bounds both memory and
  // the parts in flight: while all are out, the next bytes wait (reading and encrypting a part
  // takes a few milliseconds, uploading it far longer, so a spare buffer would sit full).
  const pool = new PartBufferPool(params.queueSize, partSize);
  // Parts still in flight are cancelled when the upload fails, whether the failure is theirs, the
  // body's or the caller's signal.
  const cancel = new AbortController();
  const signal = params.signal ? AbortSignal.any([params.signal, cancel.signal]) : cancel.signal;
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let uploadId: string | undefined;
  let partsSent = 0;
  let stored = 0;
  let failure: Error | undefined;

  const fail = (error: unknown): void => {
    if (failure) return;
    failure = error instanceof Error ? error : new Error(String(error));
    pool.fail(failure);
    cancel.abort(failure);
  };

  const md5Of = (bytes: Buffer): { ContentMD5?: string } =>
    (params.contentMd5 ? { ContentMD5: createHash('md5').update(bytes).digest('base64') } : {});

  /**
   * isThisUpload says whether the object at the key is the one these parts make: its size, and its
   * ETag where S3's rule gives it (the MD5 of the parts' MD5s, `-` and their count; stores whose part
   * ETags are not MD5s, with SSE-KMS say, leave only the size to compare). Backup names are unique,
   * so another object of the same name and size is not a case that arises.
   */
  const isThisUpload = async (completed: CompletedPart[], size: number): Promise<boolean> => {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
    if (head?.ContentLength !== size) return false;
    const partMd5s = completed.map((p) => (p.ETag ?? '').replace(/"/g, ''));
    if (!partMd5s.every((md5) => /^[0-9a-f]{32}$/i.test(md5))) return true;
    const etag = (head.ETag ?? '').replace(/"/g, '');
    // Servers that do not follow S3's rule for multipart ETags (s3rver gives the whole object's
    // MD5) leave only the size to compare.
    if (!/-\d+$/.test(etag)) return true;
    return etag === `${createHash('md5').update(Buffer.from(partMd5s.join(''), 'hex')).digest('hex')}-${completed.length}`;
  };

  /** progress tells the caller, whose callback must not fail the upload nor escape as an unhandled rejection. */
  const progress = (bytes: number): void => {
    try {
      params.onProgress?.(bytes);
    } catch {
      // A progress report is advisory.
    }
  };

  const sendPart = async (buffer: Buffer, length: number): Promise<void> => {
    if (uploadId === undefined) {
      // Not cancellable: an upload created after we stopped waiting would have no one to abort it.
      // The request is small, and bounded by the client's timeouts.
      const created = await client.send(new CreateMultipartUploadCommand({
        Bucket: bucket, Key: key, ...(params.metadata ? { Metadata: params.metadata } : {}),
      }));
      if (!created.UploadId) throw new Error('the S3 store started a multipart upload without an upload id');
      uploadId = created.UploadId;
      params.onUploadId?.(uploadId);
      signal.throwIfAborted();
    }
    const partNumber = ++partsSent;
    if (partNumber > MAX_PARTS) {
      throw new SnapkeepError('object_too_large', `the object needs more than ${MAX_PARTS} parts of ${partSize / MiB} MiB, the most S3 allows in one upload`);
    }
    const bytes = buffer.subarray(0, length);
    const part = client.send(new UploadPartCommand({
      Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber,
      Body: bytes, ContentLength: length, ...md5Of(bytes),
    }), { abortSignal: signal }).then((out) => {
      // CompleteMultipartUpload names each part by its ETag: without it the store would refuse the
      // whole upload at the end with a less helpful error.
      if (!out.ETag) throw new Error(`the S3 store answered part ${partNumber} without an ETag`);
      pool.give(buffer);
      parts.push({ PartNumber: partNumber, ETag: out.ETag });
      stored += length;
      progress(stored);
    }).catch(fail).finally(() => inFlight.delete(part));
    inFlight.add(part);
  };

  try {
    let buffer = await pool.take();
    let filled = 0;
    const body = chunks[Symbol.asyncIterator]();
    for (;;) {
      const next = await nextUnlessFailed(body, cancel.signal);
      if (next.done) break;
      const chunk = next.value;
      for (let offset = 0; offset < chunk.length;) {
        // A full buffer is sent only once more bytes arrive: until then it may be the last part, or
        // the only one (a single PutObject).
        if (filled === partSize) {
          await sendPart(buffer, filled);
          buffer = await pool.take();
          filled = 0;
        }
        const copied = chunk.copy(buffer, filled, offset);
        filled += copied;
        offset += copied;
      }
    }
    if (failure) throw failure;
    if (partsSent === 0) {
      const bytes = buffer.subarray(0, filled);
      await client.send(new PutObjectCommand({
        Bucket: bucket, Key: key, Body: bytes, ContentLength: filled, ...md5Of(bytes),
        ...(params.metadata ? { Metadata: params.metadata } : {}),
      }), { abortSignal: signal });
      progress(filled);
      return filled;
    }
    await sendPart(buffer, filled);
    while (inFlight.size > 0) await Promise.all(inFlight);
    if (failure) throw failure;
    parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
    // Not cancellable either: once sent, the object may exist whether or not we wait for the answer.
    try {
      await client.send(new CompleteMultipartUploadCommand({
        Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts },
      }));
    } catch (error) {
      // The SDK's retry of a Complete whose answer was lost finds the upload gone (NoSuchUpload on
      // S3, a 500 on some servers), because it worked: the object is there, whole, and reporting a
      // failure would hide a good backup. Only the object this upload made passes this check.
      if (!(await isThisUpload(parts, stored))) throw error;
    }
    return stored;
  } catch (error) {
    fail(error);
    // The caller aborts the upload next: no part of ours may still be on its way by then (the part
    // requests reject at once when cancelled, so this does not wait for a slow store).
    while (inFlight.size > 0) await Promise.all(inFlight);
    throw failure!;
  }
}

/**
 * nextUnlessFailed is the body's next chunk, or a rejection as soon as the upload fails, so that a
 * body slow to give its next chunk is not waited for. Not Promise.race against one promise for the
 * whole upload: every race would leave a reaction on it holding its chunk, the whole body in memory.
 */
function nextUnlessFailed(body: AsyncIterator<Buffer>, failed: AbortSignal): Promise<IteratorResult<Buffer>> {
  return new Promise((resolve, reject) => {
    if (failed.aborted) {
      reject(failed.reason);
      return;
    }
    const onFailed = (): void => reject(failed.reason);
    failed.addEventListener('abort', onFailed, { once: true });
    body.next().then(
      (result) => { failed.removeEventListener('abort', onFailed); resolve(result); },
      (error: unknown) => { failed.removeEventListener('abort', onFailed); reject(error); },
    );
  });
}
