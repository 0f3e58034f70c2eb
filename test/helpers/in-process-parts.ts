import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { createLogger, type Logger } from '../../src/logging/create-logger.js';
import { createRedisConnection } from '../../src/queue/redis-connection.js';

/** collectingLogger is a debug-level JSON logger whose every line lands in `lines`, for assertions on logs. */
export function collectingLogger(lines: string[]): Logger {
  return createLogger({ level: 'debug', format: 'json', stream: new Writable({ write(chunk: Buffer, _e, cb) { lines.push(chunk.toString()); cb(); } }) });
}

/** TrackedConnections opens Redis clients for one in-process service and remembers them for teardown. */
export interface TrackedConnections {
  connect(role: 'worker' | 'producer'): Redis;
  all: Redis[];
}

/** trackConnections makes clients of redisUrl that swallow connection errors (tests stop Redis on purpose). */
export function trackConnections(redisUrl: string): TrackedConnections {
  const all: Redis[] = [];
  return {
    all,
    connect(role) {
      const c = createRedisConnection({ url: redisUrl }, role);
      c.on('error', () => undefined);
      all.push(c);
      return c;
    },
  };
}
