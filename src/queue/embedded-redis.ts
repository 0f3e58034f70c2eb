import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from '../logging/create-logger.js';
import { SnapkeepError } from '../errors.js';

/** EmbeddedRedis is a redis-server child process that `serve` owns when REDIS_URL is unset. */
export interface EmbeddedRedis {
  socketPath: string;
  stop(): Promise<void>;
}

const CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'];

/** findRedisServer looks for the redis-server binary on PATH and in the usual places. */
export function findRedisServer(): string | null {
  const onPath = (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => join(dir, 'redis-server'));
  return [...onPath, ...CANDIDATES].find((p) => existsSync(p)) ?? null;
}

/** embeddedRedisSocket is where the embedded server listens, so a CLI with the same STATE_DIR finds it. */
export function embeddedRedisSocket(stateDir: string): string {
  return join(stateDir, 'redis', 'redis.sock');
}

/**
 * startEmbeddedRedis runs redis-server on a unix socket under STATE_DIR/redis (no TCP port at all,
 * so nothing beyond this machine can reach it), with its append-only file there too.
 */
export async function startEmbeddedRedis(stateDir: string, logger: Logger): Promise<EmbeddedRedis> {
  const binary = findRedisServer();
  if (!binary) {
    throw new SnapkeepError('invalid_config',
      'REDIS_URL is unset and no redis-server binary was found: install it (sudo apt-get install -y redis-server) or set REDIS_URL=redis://host:6379');
  }
  const dir = join(stateDir, 'redis');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socketPath = embeddedRedisSocket(stateDir);
  rmSync(socketPath, { force: true });
  const child: ChildProcess = spawn(binary, [
    '--port', '0', '--unixsocket', socketPath, '--unixsocketperm', '700', '--dir', dir,
    '--appendonly', 'yes', '--save', '', '--daemonize', 'no', '--loglevel', 'warning',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // However this process ends (a failed start such as a port in use, an uncaught error), the server
  // must not outlive it: a child is not killed with its parent. A signal is all 'exit' allows.
  const killOnExit = (): void => { if (child.exitCode === null) child.kill('SIGTERM'); };
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  await waitForSocket(socketPath, exited, () => stderr);
  logger.info('embedded redis started', { socket: socketPath, pid: child.pid });
  return {
    socketPath,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitForSocket(socketPath: string, exited: Promise<number | null>, stderr: () => string): Promise<void> {
  let dead = false;
  void exited.then(() => { dead = true; });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (dead) throw new SnapkeepError('internal', `embedded redis-server exited at start: ${stderr().trim().slice(0, 500)}`);
    if (existsSync(socketPath)) {
      const probe = new Redis({ path: socketPath, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        // Not accepting yet (still loading the append-only file): try again shortly.
      } finally {
        probe.disconnect();
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new SnapkeepError('internal', 'embedded redis-server did not start within 10 s');
}
