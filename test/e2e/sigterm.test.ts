import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollJob } from '../helpers/api-client.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { freePort, removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';

const MiB = 1024 * 1024;

/**
 * createLargeDatabase writes `mib` MiB of random blobs in one statement (about 1 s for 300 MiB):
 * big enough that snapshot, encryption and write take a couple of seconds, so a signal lands mid-job.
 */
function createLargeDatabase(path: string, mib: number): void {
  const db = new Database(path);
  db.exec(`PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
    CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${mib})
    INSERT INTO blobs (body) SELECT randomblob(${MiB}) FROM n;`);
  db.close();
}

/** logEvents reads the JSON log lines a service wrote, in order. */
const logEvents = (logs: string): Array<{ message: string; jobId?: string }> =>
  logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message: string; jobId?: string });

describe('SIGTERM while a backup runs', () => {
  let redis: TestRedis;
  let dir: string;
  let env: Record<string, string>;
  let base: string;
  let admin: string;
  const services: RunningService[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-sigterm-'));
    createLargeDatabase(join(dir, 'app.db'), 300);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      DB_PATH: join(dir, 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'),
      BACKUP_LOCAL_DIR: join(dir, 'backups'), REDIS_URL: redis.url, PORT: String(port), BACKUP_SCHEDULE_HOURS: '0',
      QUEUE_PREFIX: `term${randomBytes(3).toString('hex')}`,
    };
    admin = (await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env)).stdout.trim();
  });

  afterAll(async () => {
    for (const s of services) await s.stop('SIGKILL');
    await redis?.close();
    if (dir) removeDir(dir);
  });

  it('lets the active backup finish, exits 0, and the job is completed for the next process', async () => {
    const first = await startService('serve', env);
    services.push(first);
    const res = await fetch(`${base}/api/backups`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(202);
    const { jobId, statusUrl } = (await res.json()) as { jobId: string; statusUrl: string };

    // Signal as soon as a worker holds the job.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const job = (await (await fetch(`${base}${statusUrl}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { state: string };
      if (job.state === 'active') break;
      if (job.state === 'completed' || Date.now() > deadline) throw new Error(`the backup was never seen active (state ${job.state})`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const signalledAt = Date.now();
    expect(await first.stop('SIGTERM')).toBe(0);

    // The signal arrived mid-job: the process logged "stopping" before the backup completed, then "stopped".
    const events = logEvents(first.logs()).map((e) => e.message);
    const stopping = events.indexOf('stopping');
    const completed = events.indexOf('backup completed');
    expect(stopping).toBeGreaterThanOrEqual(0);
    expect(completed).toBeGreaterThan(stopping);
    expect(events.indexOf('stopped')).toBeGreaterThan(completed);
    expect(Date.now() - signalledAt).toBeLessThan(30_000);
    // No snapshot was left behind.
    expect(readdirSync(join(dir, 'state', 'tmp')).filter((f) => !f.startsWith('.'))).toEqual([]);

    // A new process sees the job completed, and the backup it names is in the store, whole.
    const second = await startService('serve', env);
    services.push(second);
    const job = await pollJob(base, statusUrl, admin);
    expect(job).toMatchObject({ id: jobId, state: 'completed', attemptsMade: 1 });
    const result = job.result as { key: string; databaseSize: number; size: number };
    expect(result.databaseSize).toBeGreaterThan(300 * MiB);
    expect(statSync(join(dir, 'backups', result.key)).size).toBe(result.size);
    expect(await second.stop('SIGTERM')).toBe(0);
  });
});

describe('a serve that fails to start', () => {
  it('stops the embedded Redis it started (here: the port is taken)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapkeep-failstart-'));
    const taken = createServer();
    const port = await new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => {
      const address = taken.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    }));
    try {
      const env = { STATE_DIR: join(dir, 'state'), PORT: String(port), BACKUP_SCHEDULE_HOURS: '0' };
      const r = await runCli(['serve'], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('embedded redis started');
      expect(r.stderr).toMatch(/EADDRINUSE/);
      // redis-server removes its socket when it shuts down; give it a moment.
      const socket = join(dir, 'state', 'redis', 'redis.sock');
      const deadline = Date.now() + 5000;
      while (existsSync(socket) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(socket)).toBe(false);
    } finally {
      taken.close();
      removeDir(dir);
    }
  });
});
