import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/backups/list-backups.js';
import { jobStatsKey, recordJobFinished, seedLastSuccessfulBackup } from '../../src/metrics/job-stats.js';
import { lastSuccessSeal } from '../../src/metrics/last-success.js';
import { LocalBackupStore } from '../../src/storage/local-store.js';
import { pollJob } from '../helpers/api-client.js';
import { collectingLogger } from '../helpers/in-process-parts.js';
import { startInProcessService, type InProcessService } from '../helpers/in-process-service.js';
import { parsePrometheusText, sampleValue, type Sample } from '../helpers/prometheus-text.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const QUEUES = ['backup', 'restore', 'prune'];
const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'];

async function scrape(url: string, token: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

/** scrapeUntil scrapes until a condition holds: workers record a job's end just after BullMQ marks it finished. */
async function scrapeUntil(url: string, token: string, ready: (samples: Sample[]) => boolean): Promise<Sample[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const samples = await scrape(url, token);
    if (ready(samples)) return samples;
    if (Date.now() > deadline) throw new Error('metrics did not reach the expected values');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function post(url: string, path: string, token: string, body: unknown = {}): Promise<{ statusUrl: string }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(202);
  return (await res.json()) as { statusUrl: string };
}

describe('GET /metrics', () => {
  let redis: TestRedis;
  let svc: InProcessService;

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startInProcessService(redis.url);
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.close();
  });

  it('answers 401 with a Bearer challenge without a valid token, and any valid role may read', async () => {
    const none = await fetch(`${svc.api.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await none.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    const unknown = await fetch(`${svc.api.url}/metrics`, { headers: { authorization: 'Bearer skp_not-a-token' } });
    expect(unknown.status).toBe(401);
    // The dashboard's Basic scheme is not accepted here: scrapers send a bearer token.
    const basic = await fetch(`${svc.api.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`ops:${svc.admin}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
    for (const token of [svc.viewer, svc.admin]) {
      const res = await fetch(`${svc.api.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('reports zeros, queue depths by state and the default process metrics before any job', async () => {
    const samples = await scrape(svc.api.url, svc.viewer);
    for (const name of ['snapkeep_backups_total', 'snapkeep_restores_total', 'snapkeep_prunes_total']) {
      expect(sampleValue(samples, name, { outcome: 'completed' })).toBe(0);
      expect(sampleValue(samples, name, { outcome: 'failed' })).toBe(0);
    }
    expect(sampleValue(samples, 'snapkeep_last_successful_backup_timestamp_seconds')).toBe(0);
    expect(sampleValue(samples, 'snapkeep_backup_duration_seconds_count')).toBe(0);
    expect(sampleValue(samples, 'snapkeep_redis_up')).toBe(1);
    for (const queue of QUEUES) for (const state of STATES) expect(sampleValue(samples, 'snapkeep_queue_jobs', { queue, state })).toBe(0);
    expect(sampleValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  let backupId = '';
  it('counts a completed backup: outcome, duration, size and time, the same from an API process that ran no job', async () => {
    const accepted = await post(svc.api.url, '/api/backups', svc.admin);
    const job = await pollJob(svc.api.url, accepted.statusUrl, svc.admin);
    expect(job.state, String(job.failedReason)).toBe('completed');
    const result = job.result as { backupId: string; size: number; createdAt: string; durationMs: number };
    backupId = result.backupId;

    const samples = await scrapeUntil(svc.api.url, svc.viewer, (s) => sampleValue(s, 'snapkeep_backups_total', { outcome: 'completed' }) === 1);
    // A second app on the same Redis, with no worker and a registry of its own, as `snapkeep api` is.
    const apiOnly = await svc.startApi();
    const fromApi = await scrape(apiOnly.url, svc.viewer);
    for (const s of [samples, fromApi]) {
      expect(sampleValue(s, 'snapkeep_backups_total', { outcome: 'completed' })).toBe(1);
      expect(sampleValue(s, 'snapkeep_backups_total', { outcome: 'failed' })).toBe(0);
      expect(sampleValue(s, 'snapkeep_last_successful_backup_timestamp_seconds')).toBe(Date.parse(result.createdAt) / 1000);
      expect(sampleValue(s, 'snapkeep_backup_duration_seconds_count')).toBe(1);
      const seconds = sampleValue(s, 'snapkeep_backup_duration_seconds_sum')!;
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(result.durationMs / 1000 + 1);
      expect(sampleValue(s, 'snapkeep_backup_duration_seconds_bucket', { le: '+Inf' })).toBe(1);
      expect(sampleValue(s, 'snapkeep_backup_size_bytes_count')).toBe(1);
      expect(sampleValue(s, 'snapkeep_backup_size_bytes_sum')).toBe(result.size);
      // Cumulative buckets: 0 below the size, 1 from the first bound at or above it.
      const buckets = s.filter((x) => x.name === 'snapkeep_backup_size_bytes_bucket' && x.labels.le !== '+Inf');
      expect(buckets.length).toBeGreaterThan(5);
      for (const b of buckets) expect(b.value).toBe(Number(b.labels.le) >= result.size ? 1 : 0);
      expect(sampleValue(s, 'snapkeep_queue_jobs', { queue: 'backup', state: 'completed' })).toBe(1);
      expect(sampleValue(s, 'snapkeep_queue_jobs', { queue: 'backup', state: 'active' })).toBe(0);
    }
    await apiOnly.close();
  });

  it('counts restores and prunes, and a failure only once its last attempt failed', async () => {
    const restored = await pollJob(svc.api.url, (await post(svc.api.url, `/api/backups/${backupId}/restore`, svc.admin)).statusUrl, svc.admin);
    expect(restored.state, String(restored.failedReason)).toBe('completed');
    // The restore file exists now: a second restore without force fails, and no retry can fix that.
    const refused = await pollJob(svc.api.url, (await post(svc.api.url, `/api/backups/${backupId}/restore`, svc.admin)).statusUrl, svc.admin);
    expect(refused.state).toBe('failed');
    const pruned = await pollJob(svc.api.url, (await post(svc.api.url, '/api/backups/prune', svc.admin, { dryRun: true })).statusUrl, svc.admin);
    expect(pruned.state).toBe('completed');

    // A backup of a database that is not there fails (BACKUP_JOB_ATTEMPTS=1 here, so at once).
    const dbPath = svc.config.dbPath!;
    renameSync(dbPath, `${dbPath}.away`);
    try {
      const failed = await pollJob(svc.api.url, (await post(svc.api.url, '/api/backups', svc.admin)).statusUrl, svc.admin);
      expect(failed.state).toBe('failed');
    } finally {
      renameSync(`${dbPath}.away`, dbPath);
    }

    const samples = await scrapeUntil(svc.api.url, svc.viewer, (s) => sampleValue(s, 'snapkeep_backups_total', { outcome: 'failed' }) === 1
      && sampleValue(s, 'snapkeep_prunes_total', { outcome: 'completed' }) === 1 && sampleValue(s, 'snapkeep_restores_total', { outcome: 'failed' }) === 1);
    expect(sampleValue(samples, 'snapkeep_restores_total', { outcome: 'completed' })).toBe(1);
    expect(sampleValue(samples, 'snapkeep_restore_duration_seconds_count')).toBe(1);
    expect(sampleValue(samples, 'snapkeep_prunes_total', { outcome: 'failed' })).toBe(0);
    expect(sampleValue(samples, 'snapkeep_backups_total', { outcome: 'completed' })).toBe(1);
    // Failures add no duration or size, and never move the last-success time.
    expect(sampleValue(samples, 'snapkeep_backup_duration_seconds_count')).toBe(1);
    expect(sampleValue(samples, 'snapkeep_backup_size_bytes_count')).toBe(1);
    expect(sampleValue(samples, 'snapkeep_queue_jobs', { queue: 'backup', state: 'failed' })).toBe(1);
    expect(sampleValue(samples, 'snapkeep_queue_jobs', { queue: 'restore', state: 'completed' })).toBe(1);
    expect(sampleValue(samples, 'snapkeep_queue_jobs', { queue: 'restore', state: 'failed' })).toBe(1);
  });
});

/**
 * Issue 13, finding 6, from the side of someone who can write to Redis (no master key) or to the
 * bucket: the staleness gauge must never be pushed into the future, where its alert goes quiet.
 */
describe('the last-success gauge against a Redis or bucket writer', () => {
  let redis: TestRedis;
  let svc: InProcessService;
  let raw: Redis;
  const FIELD = 'last_success:backup';
  const statsKey = (): string => jobStatsKey(svc.api.queues);
  const gauge = async (): Promise<number | undefined> => sampleValue(await scrape(svc.api.url, svc.viewer), 'snapkeep_last_successful_backup_timestamp_seconds');
  const backupNow = async (): Promise<string> => {
    const job = await pollJob(svc.api.url, (await post(svc.api.url, '/api/backups', svc.admin)).statusUrl, svc.admin);
    expect(job.state, String(job.failedReason)).toBe('completed');
    return (job.result as { createdAt: string }).createdAt;
  };

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startInProcessService(redis.url);
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await svc?.close();
    await redis?.close();
  });

  it('HSET of a huge value before any backup reads as 0, is warned about once, and the first backup replaces it', async () => {
    await raw.hset(statsKey(), FIELD, '9999999999');
    expect(await gauge()).toBe(0);
    expect(await gauge()).toBe(0);
    expect(svc.logs.filter((line) => line.includes('no valid MAC') && line.includes('ignored'))).toHaveLength(1);
    const createdAt = await backupNow();
    await scrapeUntil(svc.api.url, svc.viewer, (s) => sampleValue(s, 'snapkeep_last_successful_backup_timestamp_seconds') === Date.parse(createdAt) / 1000);
    expect(await raw.hget(statsKey(), FIELD)).toMatch(/^\d+(\.\d+)?:[0-9a-f]{64}$/);
    expect(svc.logs.some((line) => line.includes('no valid MAC') && line.includes('replaced'))).toBe(true);
  });

  it('HSET of a huge value over a recorded time never moves the gauge into the future (MAC-shaped forgeries: test/unit/last-success.test.ts)', async () => {
    expect(await gauge()).toBeGreaterThan(0);
    await raw.hset(statsKey(), FIELD, '9999999999');
    expect(await gauge()).toBe(0);
  });

  it('a backup dated 2099 planted in the store is listed as future and not counted by the seed at worker start', async () => {
    const dir = (svc.config.store as { dir: string }).dir;
    const planted = '20991231T235959Z-deadbeef.tar.age';
    writeFileSync(join(dir, planted), 'age-encryption.org/v1\n-> X25519 planted\n');
    await raw.hdel(statsKey(), FIELD);
    const logs: string[] = [];
    const logger = collectingLogger(logs);
    const store = new LocalBackupStore({ type: 'local', dir });
    // What `serve` and `worker` do at start (cli/processes/run-service.ts).
    await seedLastSuccessfulBackup(raw, statsKey(), () => listBackups(store, { logger }), logger, svc.config.masterKey);
    const listed = await listBackups(store);
    expect(listed.at(-1)).toMatchObject({ id: planted.slice(0, 25), future: true });
    const newestReal = listed[0]!;
    expect(newestReal.future).toBeUndefined();
    expect(await gauge()).toBe(Date.parse(newestReal.createdAt) / 1000);
    expect(logs.some((line) => line.includes('backup dated in the future') && line.includes(planted))).toBe(true);
  });

  it('a completed backup whose time is in the future counts as taken now, not then', async () => {
    await raw.hdel(statsKey(), FIELD);
    const before = Date.now() / 1000;
    await recordJobFinished(raw, statsKey(), { queue: 'backup', outcome: 'completed', result: { createdAt: '2099-12-31T23:59:59.000Z', size: 10 }, durationMs: 5 },
      { seal: lastSuccessSeal(statsKey(), svc.config.masterKey) });
    const value = (await gauge())!;
    expect(value).toBeGreaterThanOrEqual(Math.floor(before));
    expect(value).toBeLessThanOrEqual(Date.now() / 1000);
  });
});
