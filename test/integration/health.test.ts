import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthRouter } from '../../src/api/routes/health-router.js';
import { createStore } from '../../src/storage/create-store.js';
import { startS3Server, storeConfigFor } from '../helpers/s3-server.js';
import { startInProcessService, type InProcessService } from '../helpers/in-process-service.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

interface Health { status: string; redis: string; storage: string; lastGoodDrillAt: string | null; version: string }

async function health(url: string): Promise<{ status: number; body: Health; text: string; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${url}/api/health`);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Health, text, ms: Date.now() - started };
}

async function healthUntil(url: string, status: number): Promise<Health> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answer = await health(url);
    if (answer.status === status) return answer.body;
    if (Date.now() > deadline) throw new Error(`health stayed ${answer.status}: ${answer.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('GET /api/health', () => {
  let redis: TestRedis;
  let svc: InProcessService;
  /** Everything a health answer must never contain. */
  let secrets: string[];
  /** True while the test has Redis stopped: only then may afterAll start it again (a second start would orphan the first). */
  let redisStopped = false;

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startInProcessService(redis.url);
    secrets = [svc.config.masterKey!.toString('hex'), svc.admin, svc.viewer, redis.url, String(redis.port), '127.0.0.1', svc.dir, svc.config.stateDir];
  });
  afterAll(async () => {
    if (redisStopped) await redis.start().catch(() => undefined);
    await svc?.close();
    await redis?.close();
  });

  const expectNothingRevealed = (text: string): void => {
    for (const secret of secrets) expect(text).not.toContain(secret);
  };

  it('answers 200 without a token: up/down/disabled and the version, nothing else', async () => {
    const answer = await health(svc.api.url);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'ok', redis: 'up', storage: 'up', lastGoodDrillAt: null, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expectNothingRevealed(answer.text);
  });

  it('answers 503 with redis: down while Redis is stopped, quickly, and recovers when it is back', async () => {
    await redis.stop();
    redisStopped = true;
    const down = await health(svc.api.url);
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: 'degraded', redis: 'down', storage: 'up', lastGoodDrillAt: null, version: expect.any(String) });
    // The ping has its own timeout: a load balancer's probe gets an answer, not a hang.
    expect(down.ms).toBeLessThan(3000);
    expectNothingRevealed(down.text);

    // /metrics keeps answering with this process's own metrics and says Redis was unreachable.
    const metrics = await fetch(`${svc.api.url}/metrics`, { headers: { authorization: `Bearer ${svc.viewer}` } });
    expect(metrics.status).toBe(200);
    const samples = parsePrometheusText(await metrics.text());
    expect(sampleValue(samples, 'snapkeep_redis_up')).toBe(0);
    expect(sampleValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'snapkeep_backups_total' || s.name === 'snapkeep_queue_jobs')).toBe(false);

    // Requests that need the queue say so with a 503, not a 500.
    const enqueue = await fetch(`${svc.api.url}/api/backups`, { method: 'POST', headers: { authorization: `Bearer ${svc.admin}` } });
    expect(enqueue.status).toBe(503);
    expect(((await enqueue.json()) as { error: { code: string } }).error.code).toBe('queue_unavailable');
    const poll = await fetch(`${svc.api.url}/api/jobs/backup-x`, { headers: { authorization: `Bearer ${svc.viewer}` } });
    expect(poll.status).toBe(503);

    await redis.start();
    redisStopped = false;
    expect(await healthUntil(svc.api.url, 200)).toEqual({ status: 'ok', redis: 'up', storage: 'up', lastGoodDrillAt: null, version: expect.any(String) });
  });

  it('answers 503 with storage: down when the store is unreachable, without saying where it is', async () => {
    const dir = join(svc.dir, 'backups');
    renameSync(dir, `${dir}.away`);
    writeFileSync(dir, 'not a directory');
    try {
      // The store is asked at most once a second (store-reachability.ts): down within about that.
      const started = Date.now();
      await healthUntil(svc.api.url, 503);
      expect(Date.now() - started).toBeLessThan(5000);
      const down = await health(svc.api.url);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: 'degraded', redis: 'up', storage: 'down' });
      expectNothingRevealed(down.text);
      expect(down.text).not.toContain('backups');
    } finally {
      rmSync(dir);
      renameSync(`${dir}.away`, dir);
    }
    expect(await healthUntil(svc.api.url, 200)).toMatchObject({ storage: 'up' });
  });

  it('asks an S3 store once for a burst of health requests, not once per request', async () => {
    const s3 = await startS3Server();
    const store = createStore(storeConfigFor(s3));
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    const app = express().use('/api/health', healthRouter({ redis: client, store }));
    const server = await new Promise<Server>((resolve) => { const x = app.listen(0, '127.0.0.1', () => resolve(x)); });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const heads = (): number => s3.requests.filter((r) => r.method === 'HEAD').length;
      const answers = await Promise.all(Array.from({ length: 50 }, () => health(url)));
      expect(answers.every((a) => a.status === 200 && a.body.storage === 'up')).toBe(true);
      expect(heads()).toBe(1);
      // Within the second that follows, the answer is reused; after it, the store is asked again.
      await health(url);
      expect(heads()).toBe(1);
      await new Promise((r) => setTimeout(r, 1100));
      await Promise.all(Array.from({ length: 10 }, () => health(url)));
      expect(heads()).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.disconnect();
      await s3.close();
    }
  });

  it('reports storage: disabled, and stays 200, when no store is configured', async () => {
    const api = await svc.startApi({ store: 'none' });
    const answer = await health(api.url);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok', redis: 'up', storage: 'disabled' });
    await api.close();
  });
});
