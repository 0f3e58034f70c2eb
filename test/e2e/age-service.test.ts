import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreResult } from '../../src/queue/job-types.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { makeSampleTree } from '../helpers/file-tree.js';
import { dumpRedis } from '../helpers/redis-dump.js';
import { freePort, removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

const PASSPHRASE = `api-passphrase-${randomBytes(6).toString('hex')}`;

describe('age backups in the running service: public keys it cannot read, passphrases Redis never sees', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let service: RunningService;
  let dir: string;
  let env: Record<string, string>;
  let base: string;
  let admin: string;
  let keyFile: string;
  let dbPath: string;

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server({ bucket: 'snapkeep-age' })]);
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-age-e2e-'));
    makeSampleTree(join(dir, 'app'), 1024 * 1024);
    dbPath = join(dir, 'app.db');
    createSampleDatabase(dbPath, 300);
    keyFile = join(dir, 'key.txt');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      DB_PATH: dbPath, MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), REDIS_URL: redis.url, PORT: String(port),
      BACKUP_S3_ENDPOINT: s3.endpoint, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId, BACKUP_S3_SECRET_KEY: s3.secretAccessKey,
      BACKUP_SCHEDULE_HOURS: '0', QUEUE_PREFIX: `age${randomBytes(3).toString('hex')}`, BACKUP_JOB_ATTEMPTS: '1',
      BACKUP_INCLUDE_PATHS: join(dir, 'app', 'config'), BACKUP_AGE_RECIPIENTS: recipient,
    };
    const token = await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env);
    expect(token.code, token.stderr).toBe(0);
    admin = token.stdout.trim();
    service = await startService('serve', env);
  });

  afterAll(async () => {
    await service?.stop();
    await Promise.all([redis?.close(), s3?.close()]);
    if (dir) removeDir(dir);
  });

  const api = async (path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  async function finished(statusUrl: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const { json } = await api(statusUrl);
      if (json.state === 'completed' || json.state === 'failed') return json;
      if (Date.now() > deadline) throw new Error(`job did not finish: ${JSON.stringify(json)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  /** download fetches the object at a job result's key: its full key in the bucket. */
  async function download(key: string, out: string): Promise<void> {
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    const object = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    await pipeline(object.Body as Readable, createWriteStream(out));
  }

  const restoreDir = (): string => join(dir, 'state', 'restore');
  const restored = (): string[] => (existsSync(restoreDir()) ? readdirSync(restoreDir()) : []);

  let publicKeyId = '';
  it('encrypts to BACKUP_AGE_RECIPIENTS: `age -d -i key.txt` opens it, manifest.json first', async () => {
    const accepted = await api('/api/backups', {});
    expect(accepted.status).toBe(202);
    const job = await finished(String(accepted.json.statusUrl));
    expect(job.state, String(job.failedReason)).toBe('completed');
    const result = job.result as { backupId: string; key: string; encryption: string; kind: string };
    expect(result).toMatchObject({ kind: 'archive', encryption: 'public-key', key: `backups/${result.backupId}.tar.age` });
    publicKeyId = result.backupId;

    const file = join(dir, 'public.tar.age');
    await download(result.key, file);
    const tarFile = join(dir, 'public.tar');
    execFileSync('age', ['-d', '-i', keyFile, '-o', tarFile, file]);
    expect(execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).split('\n')[0]).toBe('manifest.json');
  });

  it('the service cannot restore it without an identity, and leaves nothing; the CLI can with --identity-file', async () => {
    const accepted = await api(`/api/backups/${publicKeyId}/restore`, {});
    expect(accepted.status).toBe(202);
    const job = await finished(String(accepted.json.statusUrl));
    expect(job.state).toBe('failed');
    expect(String(job.failedReason)).toContain('snapkeep holds no key that can read it: restore it with the CLI and --identity-file');
    expect(restored()).toEqual([]);

    const cli = await runCli(['backup', 'restore', '--id', publicKeyId, '--identity-file', keyFile, '--json'], env);
    expect(cli.code, cli.stderr).toBe(0);
    const result = JSON.parse(cli.stdout) as RestoreResult;
    expect(result.path).toBe(join(restoreDir(), publicKeyId));
    expect(readNotes(join(result.path, 'database', 'app.sqlite'))).toEqual(readNotes(dbPath));
  });

  it('makes database-only backups age too: `{id}.age`, restored beside DB_PATH with the identity', async () => {
    const databaseOnly = { ...env, BACKUP_INCLUDE_PATHS: '' };
    const created = await runCli(['backup', 'create', '--json'], databaseOnly);
    expect(created.code, created.stderr).toBe(0);
    const { backupId, key } = JSON.parse(created.stdout) as { backupId: string; key: string };
    expect(key).toBe(`backups/${backupId}.age`);
    const file = join(dir, 'db.age');
    await download(key, file);
    execFileSync('age', ['-d', '-i', keyFile, '-o', join(dir, 'db.sqlite'), file]);
    expect(readNotes(join(dir, 'db.sqlite'))).toEqual(readNotes(dbPath));

    const without = await runCli(['backup', 'restore', '--id', backupId], databaseOnly);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('--identity-file');
    expect(existsSync(`${dbPath}.restore.${backupId}`)).toBe(false);
    const withKey = await runCli(['backup', 'restore', '--id', backupId, '--identity-file', keyFile], databaseOnly);
    expect(withKey.code, withKey.stderr).toBe(0);
    expect(readNotes(`${dbPath}.restore.${backupId}`)).toEqual(readNotes(dbPath));

    const listed = await api('/api/backups');
    const backups = listed.json.backups as Array<{ id: string; key: string; kind: string; encryption: string }>;
    // The listing's key is the one `backup create --json` printed.
    expect(backups.find((b) => b.id === backupId)).toMatchObject({ key, kind: 'database', encryption: 'public-key' });
    expect(backups.find((b) => b.id === publicKeyId)).toMatchObject({ key: `backups/${publicKeyId}.tar.age`, kind: 'archive', encryption: 'public-key' });
  });

  it('takes a passphrase over the API without it ever reaching Redis, and restores with it', async () => {
    const accepted = await api('/api/backups', { passphrase: PASSPHRASE });
    expect(accepted.status).toBe(202);
    const jobId = String(accepted.json.jobId);
    const reader = new Redis(redis.url);
    try {
      const data = await reader.hget(`${env.QUEUE_PREFIX}:backup:${jobId}`, 'data');
      expect(JSON.parse(data!)).toMatchObject({ trigger: 'api', sealedPassphrase: expect.any(String) });
      const job = await finished(String(accepted.json.statusUrl));
      expect(job.state, String(job.failedReason)).toBe('completed');
      const result = job.result as { backupId: string; key: string; encryption: string };
      expect(result).toMatchObject({ encryption: 'passphrase', key: `backups/${result.backupId}.tar.age` });

      const restore = await api(`/api/backups/${result.backupId}/restore`, { passphrase: PASSPHRASE });
      expect(restore.status).toBe(202);
      const restoreJob = await finished(String(restore.json.statusUrl));
      expect(restoreJob.state, String(restoreJob.failedReason)).toBe('completed');
      expect(readNotes(join(restoreDir(), result.backupId, 'database', 'app.sqlite'))).toEqual(readNotes(dbPath));

      const everything = await dumpRedis(reader);
      expect(everything).toContain(jobId);
      expect(everything).not.toContain(PASSPHRASE);
    } finally {
      reader.disconnect();
    }
  });

  it('seals a --passphrase-file for the service\'s workers with `backup create --queue`', async () => {
    const passFile = join(dir, 'queued-passphrase.txt');
    writeFileSync(passFile, `${PASSPHRASE}-queued\n`, { mode: 0o600 });
    const queued = await runCli(['backup', 'create', '--queue', '--passphrase-file', passFile, '--json'], env);
    expect(queued.code, queued.stderr).toBe(0);
    expect(JSON.parse(queued.stdout)).toMatchObject({ kind: 'archive', encryption: 'passphrase' });
    const reader = new Redis(redis.url);
    try {
      expect(await dumpRedis(reader)).not.toContain(`${PASSPHRASE}-queued`);
    } finally {
      reader.disconnect();
    }
  });

  it('answers 503 to a passphrase when no worker runs', async () => {
    const port = await freePort();
    const lonelyEnv = { ...env, PORT: String(port), QUEUE_PREFIX: `lonely${randomBytes(3).toString('hex')}` };
    // Tokens belong to an installation (its QUEUE_PREFIX in the shared Redis): this one needs its own.
    const lonelyAdmin = (await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], lonelyEnv)).stdout.trim();
    const lonely = await startService('api', lonelyEnv);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/backups`, {
        method: 'POST', headers: { authorization: `Bearer ${lonelyAdmin}`, 'content-type': 'application/json' }, body: JSON.stringify({ passphrase: 'x' }),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('no_worker');
    } finally {
      await lonely.stop();
    }
  });
});
