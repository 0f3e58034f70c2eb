import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqliteTokenStore } from '../../src/auth/sqlite-token-store.js';
import { startInProcessApi, type InProcessApi } from '../helpers/in-process-api.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';

describe('API authentication, brute-force limit and backup deduplication', () => {
  let redis: TestRedis;
  let api: InProcessApi | undefined;
  beforeAll(async () => { redis = await startRedis(); });
  afterEach(async () => { await api?.close(); api = undefined; });
  afterAll(async () => { await redis?.close(); });

  it('fifty concurrent POST /api/backups share one job id; exactly one created it', async () => {
    api = await startInProcessApi(redis.url);
    const answers = await Promise.all(Array.from({ length: 50 }, () =>
      fetch(`${api!.url}/api/backups`, { method: 'POST', headers: { authorization: `Bearer ${api!.admin}` } })
        .then(async (res) => ({ status: res.status, body: (await res.json()) as { jobId: string; deduplicated: boolean } }))));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(new Set(answers.map((a) => a.body.jobId)).size).toBe(1);
    expect(answers.filter((a) => !a.body.deduplicated)).toHaveLength(1);
    const counts = await api.queues.backup.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('answers 429 with a JSON error after repeated bad tokens from one client', async () => {
    api = await startInProcessApi(redis.url, { authRateLimit: { windowMs: 60_000, limit: 10 } });
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const res = await fetch(`${api.url}/api/jobs/x`, { headers: { authorization: `Bearer guess-${i}` } });
      statuses.push(res.status);
      if (res.status === 429) expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_many_requests');
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10).every((s) => s === 429)).toBe(true);
  });

  it('does not spend the budget on requests with a valid token', async () => {
    api = await startInProcessApi(redis.url, { authRateLimit: { windowMs: 60_000, limit: 3 } });
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${api.url}/api/jobs/backup-none`, { headers: { authorization: `Bearer ${api.viewer}` } });
      expect(res.status).toBe(404);
    }
  });
});

describe('failed-token limit behind a proxy (TRUST_PROXY)', () => {
  let redis: TestRedis;
  let api: InProcessApi | undefined;
  beforeAll(async () => { redis = await startRedis(); });
  afterEach(async () => { await api?.close(); api = undefined; });
  afterAll(async () => { await redis?.stop(); });

  const badTokenFrom = async (clientAddress: string): Promise<number> => (await fetch(`${api!.url}/api/jobs/backup-none`, {
    headers: { authorization: 'Bearer wrong', 'x-forwarded-for': clientAddress },
  })).status;

  it('counts each forwarded client on its own when the proxy is trusted', async () => {
    api = await startInProcessApi(redis.url, { authRateLimit: { windowMs: 60_000, limit: 3 }, trustProxy: 'loopback' });
    const first = [];
    for (let i = 0; i < 4; i++) first.push(await badTokenFrom('203.0.113.7'));
    expect(first).toEqual([401, 401, 401, 429]);
    // Another client behind the same balancer is not locked out by the first one's guesses.
    expect(await badTokenFrom('203.0.113.8')).toBe(401);
  });

  it('ignores X-Forwarded-For unless told to trust it: a client cannot pick a fresh address per guess', async () => {
    api = await startInProcessApi(redis.url, { authRateLimit: { windowMs: 60_000, limit: 3 } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await badTokenFrom(`203.0.113.${10 + i}`));
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});

describe('SqliteTokenStore', () => {
  it('keeps only SHA-256 hashes, and looks tokens up by hash so a shared prefix tells an attacker nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapkeep-tokens-'));
    try {
      const store = new SqliteTokenStore(dir);
      const token = await store.create('ops', 'superadmin');
      expect(await store.verify(token)).toMatchObject({ name: 'ops', role: 'superadmin' });
      // Same length, differing only in the last character: refused like any other guess.
      const nearMiss = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
      expect(await store.verify(nearMiss)).toBeNull();
      expect(await store.verify('')).toBeNull();
      expect(await store.verify('x'.repeat(10_000))).toBeNull();
      await store.close();
      const raw = new Database(join(dir, 'snapkeep.db'), { readonly: true });
      const rows = raw.prepare('SELECT * FROM tokens').all() as Array<Record<string, string>>;
      raw.close();
      expect(JSON.stringify(rows)).not.toContain(token);
      expect(rows[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      removeDir(dir);
    }
  });

  it('refuses duplicate names and unknown names on revoke', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapkeep-tokens-'));
    try {
      const store = new SqliteTokenStore(dir);
      const token = await store.create('ci', 'viewer');
      await expect(store.create('ci', 'viewer')).rejects.toThrow(/already exists/);
      expect(await store.revoke('nobody')).toBe(false);
      expect(await store.revoke('ci')).toBe(true);
      expect(await store.verify(token)).toBeNull();
      await store.close();
    } finally {
      removeDir(dir);
    }
  });
});
