import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** TestRedis is a real redis-server on a free loopback port, owned by one test file. */
export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** start again on the same port (after stop), for outage tests. */
  start(): Promise<void>;
  /** stop and remove its directory. */
  close(): Promise<void>;
}

/** freePort asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * startRedis runs redis-server on a free port and waits until it answers. By default it keeps
 * nothing on disk; `appendOnly` fsyncs every write to an append-only file that a restart (start()
 * after stop(), even a SIGKILL) loads again, as the README recommends for production.
 */
export async function startRedis(options: { appendOnly?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'snapkeep-redis-'));
  const persistence = options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    // Already running: a second server would fail to bind and exit, and stop() would then kill only
    // that one, leaving the first running after close().
    if (child && child.exitCode === null && child.signalCode === null) return;
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir], { stdio: 'ignore' });
    // A test file that fails before its afterAll, or a worker vitest tears down, must not leave its
    // redis-server running for good: kill it when this process exits, whatever the path.
    const spawned = child;
    const reap = (): void => { if (spawned.exitCode === null) spawned.kill('SIGKILL'); };
    process.once('exit', reap);
    spawned.once('exit', () => process.off('exit', reap));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      // Refused while the server starts: the catch below retries; without a listener ioredis prints it.
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        probe.disconnect();
      }
    }
    child.kill('SIGKILL');
    throw new Error('redis-server did not start');
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGKILL'); });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** removeDir deletes a test's temporary directory. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
