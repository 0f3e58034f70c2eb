import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { PartBufferPool } from './part-buffer-pool.js';

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
    failure ??= error instanceof Error ? error : new Error(String(error));
    pool.fail(failure);
    cancel.abort(failure);
  };

  const sendPart = async (buffer: Buffer, length: number): Promise<void> => {
    if (uploadId === undefined) {
      const created = await client.send(new CreateMultipartUploadCommand({
        Bucket: bucket, Key: key, ...(params.metadata ? { Metadata: params.metadata } : {}),
      }), { abortSignal: signal });
      if (!created.UploadId) throw new Error('the S3 store started a multipart upload without an upload id');
      uploadId = created.UploadId;
      params.onUploadId?.(uploadId);
    }
    const partNumber = ++partsSent;
    const part = client.send(new UploadPartCommand({
      Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber,
      Body: buffer.subarray(0, length), ContentLength: length,
    }), { abortSignal: signal }).then((out) => {
      parts.push({ PartNumber: partNumber, ETag: out.ETag });
      stored += length;
      params.onProgress?.(stored);
      pool.give(buffer);
    }, fail).finally(() => inFlight.delete(part));
    inFlight.add(part);
  };

  try {
    let buffer = await pool.take();
    let filled = 0;
    for await (const chunk of chunks) {
      if (failure) break;
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
      await client.send(new PutObjectCommand({
        Bucket: bucket, Key: key, Body: buffer.subarray(0, filled), ContentLength: filled,
        ...(params.metadata ? { Metadata: params.metadata } : {}),
      }), { abortSignal: signal });
      params.onProgress?.(filled);
      return filled;
    }
    await sendPart(buffer, filled);
    while (inFlight.size > 0) await Promise.all(inFlight);
    if (failure) throw failure;
    parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await client.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts },
    }), { abortSignal: signal });
    return stored;
  } catch (error) {
    fail(error);
    // The caller aborts the upload next: no part may still be arriving at the store by then.
    while (inFlight.size > 0) await Promise.all(inFlight);
    throw failure!;
  }
}
