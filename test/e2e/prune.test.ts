import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PruneResult } from '../../src/queue/job-types.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { freePort, removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { expectedRetention, timeOfId } from '../helpers/retention-oracle.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';

const DAY = 86_400_000;
const DEFAULTS = { dailyDays: 7, weeklyWeeks: 4 };
const KINDS = ['.crbu', '.crbu', '.tar.crbu', '.crbu', '.age', '.tar.age'];
/** Keys under (and beside) the prefix that are not backups: prune must never touch them. */
const FOREIGN = [
  'backups/notes.txt',
  'backups/20261122T000000Z-0123abcd.crbu.bak',
  'backups/sub/20261122T000000Z-0123abcd.crbu',
  'backups/20260231T000000Z-0123abcd.crbu', // 31 February is no time
  'backups/20261122T000000Z-0123ABCD.crbu', // the random part is lowercase hex
  'elsewhere/20200101T000000Z-0123abcd.crbu', // outside the prefix
];

const stamp = (time: number): string => new Date(time).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
const suffix = (seed: string): string => createHash('sha256').update(seed).digest('hex').slice(0, 8);
const sorted = (values: Iterable<string>): string[] => [...values].sort();

/**
 * backupsOver makes ids for `days` UTC days ending with `lastDay` (midnight): three a day at
 * various times, and every fifth day four more in the day's last second.
 */
function backupsOver(lastDay: number, days: number, seed: string): string[] {
  const ids: string[] = [];
  for (let d = 0; d < days; d++) {
    const day = lastDay - d * DAY;
    for (const seconds of [3_600, 9 * 3_600 + 30 * 60 + 15, 86_399]) ids.push(`${stamp(day + seconds * 1000)}-${suffix(`${seed}${d}/${seconds}`)}`);
    // In the day's last second, so only the suffix decides which of five is the day's newest.
    if (d % 5 === 0) for (let i = 0; i < 4; i++) ids.push(`${stamp(day + 86_399_000)}-${suffix(`${seed}${d}#${i}`)}`);
  }
  return ids;
}

describe('prune end to end: built CLI and HTTP API against a real S3 server', () => {
  let s3: TestS3Server;
  let redis: TestRedis;
  let dir: string;
  let env: Record<string, string>;
  let client: S3Client;
  let service: RunningService | undefined;
  // A fixed day pattern relative to today, so the API's prune (which plans as of now) sees the same kind of store.
  const today = Math.floor(Date.now() / DAY) * DAY;
  const ids = backupsOver(today, 60, 'main');
  const keyOf = new Map(ids.map((id, i) => [id, `backups/${id}${KINDS[i % KINDS.length]}`]));
  // Yesterday noon: yesterday's evening and today's backups are later than `at`, as clock skew makes them.
  const at = new Date(today - DAY + 12 * 3_600_000).toISOString();

  const listKeys = async (): Promise<string[]> => {
    const out = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, MaxKeys: 1000 }));
    expect(out.IsTruncated).toBeFalsy();
    return sorted((out.Contents ?? []).map((o) => o.Key!));
  };
  const put = async (keys: string[]): Promise<void> => {
    for (let i = 0; i < keys.length; i += 25) {
      await Promise.all(keys.slice(i, i + 25).map((Key) => client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: 'x' }))));
    }
  };
  const prune = async (args: string[], extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    runCli(['backup', 'prune', ...args], { ...env, ...extra });

  beforeAll(async () => {
    [s3, redis] = await Promise.all([startS3Server({ bucket: 'snapkeep-prune' }), startRedis()]);
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-prune-e2e-'));
    client = new S3Client({
      endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    env = {
      DB_PATH: join(dir, 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'),
      BACKUP_S3_ENDPOINT: s3.endpoint, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId,
      BACKUP_S3_SECRET_KEY: s3.secretAccessKey, BACKUP_SCHEDULE_HOURS: '0',
    };
    await put([...keyOf.values(), ...FOREIGN]);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    client?.destroy();
    await Promise.all([s3?.close(), redis?.close()]);
    if (dir) removeDir(dir);
  });

  it('--dry-run reports the kept set of the definition, with reasons, and deletes nothing', async () => {
    const before = await listKeys();
    expect(before).toHaveLength(ids.length + FOREIGN.length);
    const expected = expectedRetention(ids, new Date(at), DEFAULTS);
    // The fixture exercises every rule: days, weeks, later-than-at, ties in one second, and deletions.
    expect(expected.deleted.length).toBeGreaterThan(150);
    expect(Object.values(expected.reasons).flat()).toEqual(expect.arrayContaining(['future', 'newest']));
    // Some kept backup won a tie: another backup of the same second is deleted.
    expect(expected.kept.some((id) => expected.deleted.some((other) => other.slice(0, 16) === id.slice(0, 16)))).toBe(true);

    const dry = await prune(['--dry-run', '--at', at, '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const result = JSON.parse(dry.stdout) as PruneResult;
    expect(result).toEqual({ kept: expected.kept, deleted: expected.deleted, dryRun: true, reasons: expected.reasons });
    expect(await listKeys()).toEqual(before);

    const text = await prune(['--dry-run', '--at', at]);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toBe(`kept (${expected.kept.length}):`);
    for (const id of expected.kept) expect(lines).toContain(`  ${id}  ${expected.reasons[id]!.join(', ')}`);
    expect(lines).toContain(`would delete (${expected.deleted.length}):`);
    for (const id of expected.deleted) expect(lines).toContain(`  ${id}`);
    expect(lines).toContain('dry run: nothing was deleted');
    expect(await listKeys()).toEqual(before);
  });

  it('prune deletes exactly the planned backups and leaves the kept ones and every foreign key', async () => {
    const expected = expectedRetention(ids, new Date(at), DEFAULTS);
    const run = await prune(['--at', at, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ kept: expected.kept, deleted: expected.deleted, dryRun: false, reasons: expected.reasons });
    expect(await listKeys()).toEqual(sorted([...expected.kept.map((id) => keyOf.get(id)!), ...FOREIGN]));

    // Again: nothing left to delete, and the plain output says so.
    const again = await prune(['--at', at]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`kept (${expected.kept.length}):\n`);
    expect(again.stdout).toMatch(/\ndeleted \(0\):\n$/);
  });

  it('refuses an --at that is not an ISO 8601 UTC time, with exit code 2', async () => {
    // The CLI's parser has its own unit test; two cases show the exit code and message.
    for (const bad of ['1', '2026-11-20T12:00:00']) {
      const run = await prune(['--dry-run', '--at', bad]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('--at: not an ISO 8601 UTC time');
    }
  });

  it('safety rail: with the newest backup 40 days old nothing is deleted, and says why, unless --force', async () => {
    const stale = { BACKUP_S3_PREFIX: 'stale/' };
    const now = today + 12 * 3_600_000;
    const old = backupsOver(today - 40 * DAY, 20, 'stale').filter((id) => timeOfId(id) <= now - 40 * DAY);
    await put(old.map((id) => `stale/${id}.crbu`));
    const staleKeys = async (): Promise<string[]> => (await listKeys()).filter((k) => k.startsWith('stale/'));
    const before = await staleKeys();
    const newest = sorted(old).at(-1)!;
    expect(now - timeOfId(newest)).toBeGreaterThanOrEqual(40 * DAY);
    const atNow = new Date(now).toISOString();

    const text = await prune(['--at', atNow], stale);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`  ${newest}  newest\n`);
    expect(text.stdout).toContain('deleted (0):\n');
    expect(text.stdout).toContain('no backup in the last 7 days or 4 weeks: backups may have stopped; nothing deleted (use --force to prune anyway)');
    const json = JSON.parse((await prune(['--at', atNow, '--json'], stale)).stdout) as PruneResult;
    expect(json).toMatchObject({ deleted: [], dryRun: false, skippedReason: expect.stringMatching(/^no backup in the last 7 days or 4 weeks/) });
    expect(json.kept).toHaveLength(old.length);
    expect(await staleKeys()).toEqual(before);

    const forced = JSON.parse((await prune(['--at', atNow, '--force', '--json'], stale)).stdout) as PruneResult;
    const expected = expectedRetention(old, new Date(atNow), DEFAULTS, true);
    expect(forced).toEqual({ kept: [newest], deleted: expected.deleted, dryRun: false, reasons: { [newest]: ['newest'] } });
    expect(await staleKeys()).toEqual([`stale/${newest}.crbu`]);
  });

  describe('through the running service', () => {
    let base: string;
    let token: string;
    beforeAll(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      Object.assign(env, { REDIS_URL: redis.url, PORT: String(port), QUEUE_PREFIX: `prune${randomBytes(3).toString('hex')}` });
      const created = await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env);
      expect(created.code, created.stderr).toBe(0);
      token = created.stdout.trim();
      service = await startService('serve', env);
    });

    const post = (body: string): Promise<Response> => fetch(`${base}/api/backups/prune`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body,
    });
    const poll = async (statusUrl: string): Promise<{ state: string; result: PruneResult; failedReason: string | null }> => {
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        const job = (await (await fetch(`${base}${statusUrl}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { state: string; result: PruneResult; failedReason: string | null };
        if (job.state === 'completed' || job.state === 'failed') return job;
      }
      throw new Error('prune job did not finish');
    };

    it('POST /api/backups/prune {"dryRun": true} → 202, a job whose result is the plan as of now, nothing deleted', async () => {
      const before = await listKeys();
      const remaining = before.filter((k) => k.startsWith('backups/') && keyOf.has(k.slice(8).replace(/\..*$/, ''))).map((k) => k.slice(8).replace(/\..*$/, ''));
      const planBefore = expectedRetention(remaining, new Date(), DEFAULTS);
      const res = await post('{"dryRun": true}');
      expect(res.status).toBe(202);
      const accepted = (await res.json()) as { jobId: string; statusUrl: string };
      expect(accepted.statusUrl).toBe(`/api/jobs/${accepted.jobId}`);
      const job = await poll(accepted.statusUrl);
      expect(job.state, String(job.failedReason)).toBe('completed');
      const planAfter = expectedRetention(remaining, new Date(), DEFAULTS);
      // The job planned at some instant between the two; across a midnight the plans could differ.
      const got = { kept: job.result.kept, deleted: job.result.deleted, dryRun: job.result.dryRun };
      expect([planBefore, planAfter].map((p) => ({ kept: p.kept, deleted: p.deleted, dryRun: true }))).toContainEqual(got);
      expect(job.result.deleted.length).toBeGreaterThan(0);
      expect(await listKeys()).toEqual(before);
    });

    it('backup prune --queue --dry-run runs the same plan in the service', async () => {
      const run = await prune(['--queue', '--dry-run', '--json']);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ dryRun: true, kept: expect.any(Array), deleted: expect.any(Array) });
    });

    it.each([
      ['{"dryRun": "yes"}', /"dryRun" must be a boolean/],
      ['{"foo": 1}', /"foo" is not allowed/],
      ['[]', /must be of type object/],
      ['{"dryRun": true, "at": "2026-01-01T00:00:00Z"}', /"at" is not allowed/],
      ['{"dryRun": ', /./],
      ['{}', /"dryRun" is required/],
    ])('answers 400 with a JSON error to %s', async (body, message) => {
      const res = await post(body);
      expect(res.status).toBe(400);
      const answer = (await res.json()) as { error: { code: string; message: string } };
      expect(answer.error.code).toMatch(/^[a-z_]+$/);
      expect(answer.error.message).toMatch(message);
    });
  });
});
