import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyResult } from '../../src/queue/job-types.js';
import { journalModeOf } from '../../src/snapshot/journal-mode.js';
import { pollJob } from '../helpers/api-client.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { startHolder, type DatabaseHolder } from '../helpers/database-holder.js';
import { createAppDatabase, filesBeside, integrityOf, NOBODY, withoutName } from '../helpers/live-files.js';
import { fetchAndCheck, OpenApiValidator, type OpenApiDocument } from '../helpers/openapi-validator.js';
import { freePort, removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { readNotes } from '../helpers/sample-database.js';

/**
 * `POST /api/backups/:id/apply` against `snapkeep serve` on a real Redis: the worker stops the
 * application with its own APP_STOP_COMMAND (the request cannot carry one), puts the backup in
 * place and starts it again with APP_START_COMMAND.
 */
describe('apply through the HTTP API with APP_STOP_COMMAND and APP_START_COMMAND', () => {
  let redis: TestRedis;
  let service: RunningService | undefined;
  let holder: DatabaseHolder | undefined;
  let dir: string;
  let dbPath: string;
  let env: Record<string, string>;
  let base: string;
  let admin: string;
  let backupId: string;
  let marker: string;

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-apply-api-'));
    dbPath = createAppDatabase(dir, 80);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      DB_PATH: dbPath, MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups'),
      REDIS_URL: redis.url, PORT: String(port), QUEUE_PREFIX: `apl${randomBytes(3).toString('hex')}`, BACKUP_SCHEDULE_HOURS: '0', BACKUP_JOB_ATTEMPTS: '1',
    };
    const token = await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env);
    expect(token.code, token.stderr).toBe(0);
    admin = token.stdout.trim();
    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    backupId = (JSON.parse(created.stdout) as { backupId: string }).backupId;
    // The application, running: it wrote a row since the backup and holds the database open.
    holder = await startHolder(dbPath, { insert: true });
    marker = join(dir, 'started');
    service = await startService('serve', { ...env, APP_STOP_COMMAND: `kill -TERM ${holder.pid}`, APP_START_COMMAND: `touch ${marker}` });
  });
  afterAll(async () => {
    await Promise.allSettled([service?.stop(), holder?.kill()]);
    await redis?.close();
    if (dir) removeDir(dir);
  });

  const post = (path: string, body: unknown): Promise<Response> =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('never takes a command from the request', async () => {
    for (const body of [{ stopCommand: 'rm -rf /' }, { command: 'true' }, { startCommand: 'true' }]) {
      const res = await post(`/api/backups/${backupId}/apply`, body);
      expect(res.status).toBe(400);
    }
    expect(holder!.child.exitCode).toBeNull();
  });

  it('stops the application with APP_STOP_COMMAND, applies, starts it again; the job result lists the moves', async () => {
    const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as OpenApiDocument;
    const validator = new OpenApiValidator(doc);
    const res = await post(`/api/backups/${backupId}/apply`, {});
    expect(res.status).toBe(202);
    const { jobId, statusUrl } = (await res.json()) as { jobId: string; statusUrl: string };
    expect(jobId).toMatch(/^apply-/);
    const job = await pollJob(base, statusUrl, admin);
    expect(job.state, String(job.failedReason)).toBe('completed');
    const checked = await fetchAndCheck(validator, base, statusUrl, { headers: { authorization: `Bearer ${admin}` } });
    expect(checked.problems).toEqual([]);
    await holder!.exited;

    const result = job.result as ApplyResult;
    expect(result).toMatchObject({
      backupId, kind: 'database', restored: true, source: `${dbPath}.restore.${backupId}`,
      commands: { stop: `kill -TERM ${holder!.pid}`, start: `touch ${marker}` },
      stopped: [{ pid: holder!.pid }],
      database: { path: dbPath, uid: NOBODY, gid: NOBODY, mode: '0640', journalMode: 'wal' },
    });
    const aside = result.moves.find((m) => m.from === dbPath)!.to;
    expect(result.moves.map((m) => [m.from, m.to])).toEqual([
      [dbPath, aside], [`${dbPath}-wal`, `${aside}-wal`], [`${dbPath}-shm`, `${aside}-shm`], [`${dbPath}.restore.${backupId}`, dbPath],
    ]);
    expect(existsSync(marker)).toBe(true);
    const info = statSync(dbPath);
    expect({ uid: info.uid, gid: info.gid, mode: info.mode & 0o7777 }).toEqual({ uid: NOBODY, gid: NOBODY, mode: 0o640 });
    expect(journalModeOf(dbPath)).toBe('wal');
    expect(readNotes(dbPath)).toHaveLength(80);
    expect(readNotes(aside)).toHaveLength(81);
    expect(integrityOf(dbPath)).toBe('ok');
  });

  it('a queued apply whose APP_STOP_COMMAND fails (the application is gone) changes nothing and says so', async () => {
    const refused = await runCli(['backup', 'apply', '--id', backupId, '--queue', '--stop-command', 'true'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('commands never travel through Redis');
    const before = filesBeside(join(dir, 'live'));
    const queued = await runCli(['backup', 'apply', '--id', backupId, '--queue'], env);
    expect(queued.code).toBe(1);
    expect(queued.stderr).toContain(`the stop command failed, so nothing was changed: \`kill -TERM ${holder!.pid}\` exited with status 1`);
    // Only the verified restore it made first is new.
    const after = filesBeside(join(dir, 'live'));
    expect(withoutName(after, '.restore.')).toEqual(before);
  });
});
