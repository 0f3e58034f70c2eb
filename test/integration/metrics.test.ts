import { renameSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollJob } from '../helpers/api-client.js';
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
