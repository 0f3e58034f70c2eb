import { PassThrough, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StoredObject } from '../../src/storage/backup-store.js';
import type { JobContext } from '../runtime/job-context.js';

/** UploadEncryptedOptions name the object and describe it for the store and the progress bar. */
export interface UploadEncryptedOptions {
  name: string;
  metadata: Record<string, string>;
  /**
   * Expected stored size, for progress (the last percent waits for the upload's end) and as the
   * store's size hint (S3 raises its part size for a very large archive, to stay under 10,000 parts).
   */
  bytesTotal: number;
}

/**
 * uploadEncrypted streams plaintext through its encryption into the store: `source`, then the
 * transforms, into one put. Both sides must settle: an encryption error aborts the upload (the
 * store leaves no object), and a failed upload stops the encryption.
 */
export async function uploadEncrypted(ctx: JobContext, source: Readable, transforms: Transform[], options: UploadEncryptedOptions): Promise<StoredObject> {
  const { store } = ctx;
  const { bytesTotal, name } = options;
  ctx.reportProgress({ phase: 'upload', percent: 0, bytesDone: 0, bytesTotal });
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  const encrypting = pipeline([source, ...transforms, body], ctx.signal ? { signal: ctx.signal } : {});
  const uploading = store.put(name, body, {
    metadata: options.metadata,
    expectedSize: bytesTotal,
    onProgress: (bytesDone) => ctx.reportProgress({
      phase: 'upload', percent: Math.min(99, Math.floor((bytesDone / Math.max(1, bytesTotal)) * 100)), bytesDone, bytesTotal,
    }),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const [encrypted, uploaded] = await Promise.allSettled([encrypting, uploading]);
  if (encrypted.status === 'rejected') {
    if (uploaded.status === 'fulfilled') await store.delete([name]).catch(() => undefined);
    throw encrypted.reason;
  }
  if (uploaded.status === 'rejected') throw uploaded.reason;
  ctx.reportProgress({ phase: 'upload', percent: 100, bytesDone: uploaded.value.size, bytesTotal: uploaded.value.size });
  return uploaded.value;
}
