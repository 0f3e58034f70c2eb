// s3rver ships no types: just what the test helper uses (it is a Koa application).
declare module 's3rver' {
  import type { IncomingHttpHeaders, Server } from 'node:http';
  import type { AddressInfo } from 'node:net';

  export interface S3rverOptions {
    address?: string;
    port?: number;
    directory?: string;
    silent?: boolean;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>;
  }

  /** The slice of Koa's context a middleware in front of s3rver's router reads and writes. */
  export interface S3rverContext {
    method: string;
    path: string;
    url: string;
    /** The raw query string, without "?". */
    querystring: string;
    /** The parsed query; assigning it rewrites the request's query string. */
    query: Record<string, string | string[] | undefined>;
    headers: IncomingHttpHeaders;
    status: number;
    type: string;
    body: unknown;
  }

  export type S3rverMiddleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void>;

  export default class S3rver {
    constructor(options?: S3rverOptions);
    /** Koa's middleware stack, composed when the server starts listening. */
    middleware: S3rverMiddleware[];
    httpServer?: Server;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}
