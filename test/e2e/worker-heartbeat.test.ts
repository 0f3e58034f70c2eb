import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../helpers/cli.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

// The test-only interval (10 s in production): every assertion below waits a few of these.
const BEAT_MS = 200;

/** untilMtimeAfter waits until the file exists with an mtime later than `after`, and returns it. */
async function untilMtimeAfter(path: string, after: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mtime = existsSync(path) ? statSync(path).mtimeMs : -Infinity;
    if (mtime > after) return mtime;
    if (Date.now() > deadline) throw new Error(`${path} was not written after ${after} (mtime ${mtime})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the worker heartbeat (STATE_DIR/worker.{hostname}.heartbeat)', () => {
  let redis: TestRedis;
  let dir: string;
  let worker: RunningService | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-heartbeat-'));
    createSampleDatabase(join(dir, 'app.db'), 20);
  });

  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await redis?.close();
    if (dir) removeDir(dir);
  });

  it('is refreshed while the worker runs, goes stale while Redis is down, and is removed on SIGTERM', async () => {
    const stateDir = join(dir, 'state');
    const file = join(stateDir, `worker.${hostname()}.heartbeat`);
    worker = await startService('worker', {
      DB_PATH: join(dir, 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: stateDir,
      BACKUP_LOCAL_DIR: join(dir, 'backups'), REDIS_URL: redis.url, BACKUP_SCHEDULE_HOURS: '0',
      QUEUE_PREFIX: `hb${randomBytes(3).toString('hex')}`, SNAPKEEP_INTERNAL_TEST_HEARTBEAT_MS: String(BEAT_MS),
    });

    // Written, private, whole, and rewritten beat after beat.
    const first = await untilMtimeAfter(file, -Infinity);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: worker.child.pid, role: 'worker' });
    const second = await untilMtimeAfter(file, first, 5 * BEAT_MS);
    await untilMtimeAfter(file, second, 5 * BEAT_MS);

    // Redis gone: no more beats, however long it lasts, and the process keeps running.
    await redis.stop();
    await new Promise((r) => setTimeout(r, 2 * BEAT_MS)); // a beat in flight when Redis died lands
    const lastBeat = statSync(file).mtimeMs;
    await new Promise((r) => setTimeout(r, 10 * BEAT_MS));
    expect(statSync(file).mtimeMs).toBe(lastBeat);
    expect(worker.child.exitCode).toBeNull();

    // Redis back: beats resume on their own.
    await redis.start();
    await untilMtimeAfter(file, lastBeat);

    // SIGTERM: a clean exit takes the file with it (and leaves no temporary beside it).
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(stateDir).filter((n) => n.includes('heartbeat'))).toEqual([]);
    expect(worker.logs()).not.toContain('could not write the worker heartbeat');
  });
});
