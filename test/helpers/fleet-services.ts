import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import S3rver from 's3rver';
import { freePort } from './redis-server.js';
import { answerMultipartUploads, answerSignatureMismatch, pageListings, verifySignature } from './s3rver-shims.js';

/** SharedRedis is the one redis-server a fleet test's processes share, listening on every address given. */
export interface SharedRedis {
  port: number;
  /** The URL a process reaches it by from `address` (one it listens on). */
  urlFor(address: string): string;
  close(): Promise<void>;
}

/**
 * startSharedRedis runs redis-server on a free port bound to `bind` (127.0.0.1, and the host ends of
 * the namespaces' veth pairs when workers run in their own network namespaces). Nothing on disk.
 */
export async function startSharedRedis(bind: readonly string[] = ['127.0.0.1']): Promise<SharedRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'snapkeep-fleet-redis-'));
  // Protected mode would refuse clients from the namespaces' addresses: none of them is loopback.
  const child: ChildProcess = spawn('redis-server', [
    '--port', String(port), '--bind', ...bind, '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', dir,
  ], { stdio: 'ignore' });
  const reap = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis({ port, host: bind[0], lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) { reap(); throw new Error(`redis-server on ${bind.join(',')}:${port} did not start`); }
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      probe.disconnect();
    }
  }
  return {
    port,
    urlFor: (address) => `redis://${address}:${port}`,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGKILL'); });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** SharedStore is the S3 server (s3rver) every process of a fleet test reaches by TCP. */
export interface SharedStore {
  port: number;
  bucket: string;
  directory: string;
  /** The endpoint a process reaches it by from `address`. */
  endpointFor(address: string): string;
  /** The BACKUP_S3_* settings for a process that reaches it by `address`, objects under `prefix`. */
  envFor(address: string, prefix: string): Record<string, string>;
  close(): Promise<void>;
}

/**
 * startSharedStore runs s3rver in this process on `address` (0.0.0.0 when workers in network
 * namespaces must reach it), with the same signature check and multipart shims as s3-server.ts.
 */
export async function startSharedStore(address = '127.0.0.1', bucket = 'snapkeep-fleet'): Promise<SharedStore> {
  const directory = await mkdtemp(join(tmpdir(), 'snapkeep-fleet-s3-'));
  const server = new S3rver({ port: 0, address, directory, silent: true, configureBuckets: [{ name: bucket }] });
  server.middleware.unshift(async (ctx, next) => {
    if (!verifySignature(ctx, { S3RVER: 'S3RVER' })) return answerSignatureMismatch(ctx);
    if (!(await answerMultipartUploads(directory, ctx))) await next();
  });
  server.middleware.splice(server.middleware.length - 1, 0, pageListings);
  const { port } = await server.run();
  const endpointFor = (host: string): string => `http://${host}:${port}`;
  return {
    port,
    bucket,
    directory,
    endpointFor,
    envFor: (host, prefix) => ({
      BACKUP_S3_ENDPOINT: endpointFor(host), BACKUP_S3_BUCKET: bucket, BACKUP_S3_ACCESS_KEY: 'S3RVER',
      BACKUP_S3_SECRET_KEY: 'S3RVER', BACKUP_S3_PREFIX: prefix,
    }),
    async close() {
      // Keep-alive sockets of the SDK would hold close() open until they time out.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
