import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream } from '../../src/crypto/crbu-decrypt-stream.js';
import type { TestS3Server } from './s3-server.js';

/**
 * s3ClientFor is an SDK client that talks to the test server directly, past any proxy a test put in
 * front. Checksums only where required, as snapkeep's own client: s3rver would keep the aws-chunked
 * framing of the SDK's default CRC trailers inside the objects it stores.
 */
export function s3ClientFor(server: TestS3Server): S3Client {
  return new S3Client({
    endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** listKeys lists every object key under prefix (one page is plenty for a test). */
export async function listKeys(server: TestS3Server, prefix: string): Promise<string[]> {
  const out = await s3ClientFor(server).send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '');
}

/** openUploads lists the keys of multipart uploads still open under prefix: parts the bucket keeps (and bills). */
export async function openUploads(server: TestS3Server, prefix: string): Promise<string[]> {
  const out = await s3ClientFor(server).send(new ListMultipartUploadsCommand({ Bucket: server.bucket, Prefix: prefix }));
  return (out.Uploads ?? []).map((u) => u.Key ?? '');
}

/** downloadDecrypted fetches a CRBU v1 object and writes its verified plaintext to out. */
export async function downloadDecrypted(server: TestS3Server, key: string, masterKeyHex: string, out: string): Promise<void> {
  const object = await s3ClientFor(server).send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
  await pipeline(object.Body as Readable, createDecryptStream(Buffer.from(masterKeyHex, 'hex'), { acceptVersions: [1] }), createWriteStream(out));
}
