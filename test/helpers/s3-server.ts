import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { S3StoreConfig } from '../../src/config/config.js';
import { answerMultipartUploads, answerSignatureMismatch, pageListings, verifySignature } from './s3rver-shims.js';

/** TestS3Server is s3rver on a free loopback port with its own directory, owned by one test file. */
export interface TestS3Server {
  endpoint: string;
  bucket: string;
  accessKeyId: 'S3RVER';
  /** `S3RVER` unless the test chose another (to grep for it, say); signatures are checked against it. */
  secretAccessKey: string;
  /** Where s3rver keeps buckets: `{directory}/{bucket}/{key}._S3rver_object` holds an object's bytes. */
  directory: string;
  /** Every request received, for assertions on headers (checksums, Content-MD5). */
  requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/**
 * startS3Server runs s3rver in-process on 127.0.0.1, port 0, in a fresh temporary directory, with
 * one bucket. Shims (s3rver-shims.ts) make it check V4 signatures, serve ListMultipartUploads and
 * AbortMultipartUpload, and page ListObjectsV2, none of which s3rver 3.7 does on Node 20.
 */
export async function startS3Server(options: { bucket?: string; secretAccessKey?: string } = {}): Promise<TestS3Server> {
  const bucket = options.bucket ?? 'snapkeep-test';
  const secretAccessKey = options.secretAccessKey ?? 'S3RVER';
  const directory = await mkdtemp(join(tmpdir(), 'snapkeep-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', directory, silent: true, configureBuckets: [{ name: bucket }] });
  const requests: TestS3Server['requests'] = [];
  // Koa composes its middleware when it starts listening, so these can still be put in place.
  server.middleware.unshift(async (ctx, next) => {
    requests.push({ method: ctx.method, url: ctx.url, headers: ctx.headers });
    if (!verifySignature(ctx, { S3RVER: secretAccessKey })) return answerSignatureMismatch(ctx);
    if (!(await answerMultipartUploads(directory, ctx))) await next();
  });
  server.middleware.splice(server.middleware.length - 1, 0, pageListings);
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey,
    directory,
    requests,
    async close() {
      // Keep-alive sockets of the SDK would hold close() open until they time out.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** storeConfigFor is an S3StoreConfig for the test server, under a fresh prefix unless one is given. */
export function storeConfigFor(server: TestS3Server, prefix = `t-${randomBytes(4).toString('hex')}/`): S3StoreConfig {
  return {
    type: 's3',
    endpoint: server.endpoint,
    region: 'us-east-1',
    bucket: server.bucket,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    prefix,
    forcePathStyle: true,
  };
}
