import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDecryptStream } from '../../src/crypto/crbu-decrypt-stream.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { freePort, removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startS3Server } from '../helpers/s3-server.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

type S3Server = Awaited<ReturnType<typeof startS3Server>>;

const MASTER_KEY = randomBytes(32).toString('hex');

async function pollJob(base: string, statusUrl: string, token: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`${base}${statusUrl}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    if (body.state === 'completed' || body.state === 'failed') return body;
    if (Date.now() > deadline) throw new Error(`job did not finish: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('backup and restore end to end: built CLI, HTTP API, real Redis and S3', () => {
  let redis: TestRedis;
  let s3: S3Server;
  let service: RunningService;
  let dir: string;
  let env: Record<string, string>;
  let base: string;
  let admin: string;
  let viewer: string;
  let dbPath: string;

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server({ bucket: 'snapkeep-e2e' })]);
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-e2e-'));
    dbPath = join(dir, 'app.db');
    createSampleDatabase(dbPath, 500);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      DB_PATH: dbPath, MASTER_KEY, STATE_DIR: join(dir, 'state'), REDIS_URL: redis.url, PORT: String(port),
      BACKUP_S3_ENDPOINT: s3.endpoint, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId,
      BACKUP_S3_SECRET_KEY: s3.secretAccessKey, BACKUP_SCHEDULE_HOURS: '0', QUEUE_PREFIX: `e2e${randomBytes(3).toString('hex')}`,
      BACKUP_JOB_BACKOFF_MS: '200',
    };
    const a = await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env);
    const v = await runCli(['token', 'create', '--name', 'grafana', '--role', 'viewer'], env);
    expect(a.code).toBe(0);
    expect(v.code).toBe(0);
    admin = a.stdout.trim();
    viewer = v.stdout.trim();
    expect(admin).toMatch(/^\S{40,}$/);
    service = await startService('serve', env);
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([redis?.close(), s3?.close()]);
    if (dir) removeDir(dir);
  });

  const s3Client = (): S3Client => new S3Client({
    endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });

  async function decryptObject(key: string, out: string): Promise<void> {
    const object = await s3Client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    await pipeline(object.Body as Readable, createDecryptStream(Buffer.from(MASTER_KEY, 'hex'), { acceptVersions: [1] }), createWriteStream(out));
  }

  it('answers 401 without a token and 403 for a viewer on backup endpoints', async () => {
    const none = await fetch(`${base}/api/backups`, { method: 'POST' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const bad = await fetch(`${base}/api/backups`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    const asViewer = await fetch(`${base}/api/backups`, { method: 'POST', headers: { authorization: `Bearer ${viewer}` } });
    expect(asViewer.status).toBe(403);
    const health = await fetch(`${base}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', redis: 'up', storage: 'up' });
  });

  let apiBackupId = '';
  it('POST /api/backups → 202 → polled to completed → an encrypted object equal to the source', async () => {
    const res = await fetch(`${base}/api/backups`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { jobId: string; statusUrl: string; deduplicated: boolean };
    expect(accepted.statusUrl).toBe(`/api/jobs/${accepted.jobId}`);
    expect(accepted.deduplicated).toBe(false);
    // A viewer may poll.
    const job = await pollJob(base, accepted.statusUrl, viewer);
    expect(job).toMatchObject({ state: 'completed', queue: 'backup', progress: { phase: 'upload', percent: 100 } });
    const result = job.result as { backupId: string; key: string };
    // DESIGN: the object key is {BACKUP_S3_PREFIX}{id}.crbu; the job result names it by that full key.
    expect(result.key).toBe(`backups/${result.backupId}.crbu`);
    apiBackupId = result.backupId;

    const list = (await (await fetch(`${base}/api/backups`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { backups: Array<{ id: string; key: string }> };
    const listed = list.backups.find((b) => b.id === apiBackupId);
    // The listing's key is that full key too: the job result and the listing agree.
    expect(listed?.key).toBe(result.key);

    // The key as listed is where `aws s3 cp s3://bucket/$key` finds the object.
    const out = join(dir, 'downloaded.db');
    await decryptObject(listed!.key, out);
    expect(readNotes(out)).toEqual(readNotes(dbPath));
  });

  it('snapkeep backup create (in-process, and --queue) stores backups that list newest first', async () => {
    const direct = await runCli(['backup', 'create', '--json'], env);
    expect(direct.code, direct.stderr).toBe(0);
    const { backupId: directId, key: directKey } = JSON.parse(direct.stdout) as { backupId: string; key: string };
    const queued = await runCli(['backup', 'create', '--queue', '--json'], env);
    expect(queued.code, queued.stderr).toBe(0);
    const { backupId: queuedId, key: queuedKey } = JSON.parse(queued.stdout) as { backupId: string; key: string };
    // `backup create --json` prints the job result: the full key, in-process and through the queue.
    expect(directKey).toBe(`backups/${directId}.crbu`);
    expect(queuedKey).toBe(`backups/${queuedId}.crbu`);
    const out = join(dir, 'queued.db');
    await decryptObject(queuedKey, out);
    expect(readNotes(out)).toEqual(readNotes(dbPath));
    // Without --json, the "stored as" line names the same full key.
    const plain = await runCli(['backup', 'create'], env);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^backup (\S+) stored as backups\/\1\.crbu \(\d+ bytes\)$/m);

    const listed = await runCli(['backup', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    const backups = (JSON.parse(listed.stdout) as { backups: Array<{ id: string; key: string }> }).backups;
    const ids = backups.map((b) => b.id);
    expect(ids).toEqual(expect.arrayContaining([apiBackupId, directId, queuedId]));
    expect(ids).toEqual([...ids].sort().reverse());
    // `backup list --json` prints the API's listing: full keys, prefix included.
    for (const b of backups) expect(b.key).toBe(`backups/${b.id}.crbu`);
    expect(backups.find((b) => b.id === directId)?.key).toBe(directKey);
    expect(backups.find((b) => b.id === queuedId)?.key).toBe(queuedKey);
    const direct2 = join(dir, 'direct.db');
    await decryptObject(backups.find((b) => b.id === directId)!.key, direct2);
    expect(readNotes(direct2)).toEqual(readNotes(dbPath));
  });

  it('restores through the API beside DB_PATH, verified, and refuses a second restore over it', async () => {
    const res = await fetch(`${base}/api/backups/${apiBackupId}/restore`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(202);
    const job = await pollJob(base, ((await res.json()) as { statusUrl: string }).statusUrl, admin);
    expect(job.state, String(job.failedReason)).toBe('completed');
    const restored = `${dbPath}.restore.${apiBackupId}`;
    expect(readNotes(restored)).toEqual(readNotes(dbPath));
    expect(statSync(restored).mode & 0o777).toBe(0o600);

    const again = await runCli(['backup', 'restore', '--id', apiBackupId], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    const forced = await runCli(['backup', 'restore', '--id', apiBackupId, '--force'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`mv ${dbPath} ${dbPath}.old && mv ${restored} ${dbPath}`);
  });

  it('answers 404 for an unknown backup and 400 for a malformed id', async () => {
    const headers = { authorization: `Bearer ${admin}` };
    const missing = await fetch(`${base}/api/backups/20200101T000000Z-00000000/restore`, { method: 'POST', headers });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('backup_not_found');
    const malformed = await fetch(`${base}/api/backups/..%2F..%2Fetc/restore`, { method: 'POST', headers });
    expect(malformed.status).toBe(400);
    const unknownJob = await fetch(`${base}/api/jobs/backup-nothing`, { headers });
    expect(unknownJob.status).toBe(404);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    expect(await service.stop('SIGTERM')).toBe(0);
    expect(readdirSync(join(dir, 'state', 'tmp')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(dirname(dbPath))).toBe(true);
  });
});

describe('backup and restore with BACKUP_LOCAL_DIR, no Redis', () => {
  it('backs up and restores through the CLI alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapkeep-local-'));
    try {
      const dbPath = join(dir, 'app.db');
      createSampleDatabase(dbPath, 300);
      const env = { DB_PATH: dbPath, MASTER_KEY, STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups') };
      const created = await runCli(['backup', 'create', '--json'], env);
      expect(created.code, created.stderr).toBe(0);
      const { backupId } = JSON.parse(created.stdout) as { backupId: string };
      const file = join(dir, 'backups', `${backupId}.crbu`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const restored = await runCli(['backup', 'restore', '--id', backupId], env);
      expect(restored.code, restored.stderr).toBe(0);
      expect(readNotes(`${dbPath}.restore.${backupId}`)).toEqual(readNotes(dbPath));
      // Nothing beside the database but the verified restore: no temporary file survives.
      expect(readdirSync(dir).filter((f) => !['app.db', 'app.db-shm', 'app.db-wal', 'backups', 'state'].includes(f))).toEqual([`app.db.restore.${backupId}`]);
    } finally {
      removeDir(dir);
    }
  });
});
