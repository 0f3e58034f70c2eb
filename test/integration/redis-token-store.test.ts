import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTokenStore } from '../../src/auth/open-token-store.js';
import { apiTokensKey, RedisTokenStore } from '../../src/auth/redis-token-store.js';
import { SqliteTokenStore } from '../../src/auth/sqlite-token-store.js';
import { recordText, signRecord } from '../../src/auth/token-record.js';
import { hashToken } from '../../src/auth/token-store.js';
import { loadConfig } from '../../src/config/load-config.js';
import { collectingLogger } from '../helpers/in-process-parts.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';

// API tokens shared by a fleet of API processes through Redis (issue 14), attacked from the side of
// someone who can write to Redis but holds no MASTER_KEY.
describe('API tokens kept in Redis', () => {
  let redis: TestRedis;
  let client: Redis;
  const dirs: string[] = [];
  const stores: RedisTokenStore[] = [];
  const masterKey = randomBytes(32);

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: true });
    client = new Redis(redis.url);
    // The AOF test restarts Redis under these connections.
    client.on('error', () => undefined);
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    client?.disconnect();
    await redis?.close();
    for (const d of dirs) removeDir(d);
  });

  /** host opens a store as one API process on its own host (own STATE_DIR) would. */
  const host = async (prefix: string, options: { key?: Buffer; previous?: Buffer[]; logs?: string[]; stateDir?: string } = {}): Promise<RedisTokenStore> => {
    const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'snapkeep-tokhost-'));
    dirs.push(stateDir);
    const connection = new Redis(redis.url);
    connection.on('error', () => undefined);
    const store = new RedisTokenStore({
      redis: connection, queuePrefix: prefix, masterKey: options.key ?? masterKey, previousMasterKeys: options.previous ?? [], stateDir,
      logger: collectingLogger(options.logs ?? []), pollMs: 200,
    });
    const close = store.close.bind(store);
    store.close = async () => { await close(); connection.disconnect(); };
    await store.load();
    store.startPolling();
    stores.push(store);
    return store;
  };
  const prefix = (): string => `tok${randomBytes(4).toString('hex')}`;

  it('a token made on one host works on another at once, and its revoke reaches both', async () => {
    const p = prefix();
    const [one, two] = [await host(p), await host(p)];
    const token = await one.create('ops', 'superadmin');
    expect(await two.verify(token)).toMatchObject({ name: 'ops', role: 'superadmin' });
    expect(await two.revoke('ops')).toBe(true);
    expect(await two.verify(token)).toBeNull();
    const deadline = Date.now() + 5000;
    while ((await one.verify(token)) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await one.verify(token)).toBeNull();
    expect(await one.list()).toEqual([]);
  });

  it('stores only hashes, and two hosts creating at once lose no token', async () => {
    const p = prefix();
    const [one, two] = [await host(p), await host(p)];
    const made = await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => one.create(`a${i}`, 'viewer')),
      ...Array.from({ length: 5 }, (_, i) => two.create(`b${i}`, 'viewer')),
    ]);
    expect((await one.list()).map((t) => t.name).sort()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4']);
    for (const t of made) expect(await two.verify(t)).not.toBeNull();
    const raw = JSON.stringify(await client.hgetall(apiTokensKey(p)));
    for (const t of made) {
      expect(raw).not.toContain(t);
      expect(raw).toContain(hashToken(t));
    }
    await expect(one.create('a0', 'viewer')).rejects.toThrow(/already exists/);
  });

  it('refuses a token a Redis writer adds, or a viewer it raises to superadmin, and keeps the genuine tokens', async () => {
    const p = prefix();
    const logs: string[] = [];
    const api = await host(p, { logs });
    const genuine = await api.create('dash', 'viewer');
    const key = apiTokensKey(p);
    const [text, mac] = await client.hmget(key, 'record', 'mac');
    const record = JSON.parse(text!) as { version: number; tokens: Array<Record<string, string>> };

    // 1. Raise the viewer to superadmin, keeping the MAC.
    const raised = recordText({ ...record, tokens: record.tokens.map((t) => ({ ...t, role: 'superadmin' })) } as never);
    await client.hset(key, 'record', raised, 'mac', mac!);
    // 2. Add a token of its own, signed under a key of its own (it has no MASTER_KEY).
    const planted = 'skp_planted';
    const forged = recordText({ v: 1, version: record.version + 1, tokens: [...record.tokens, { name: 'intruder', role: 'superadmin', hash: hashToken(planted), createdAt: new Date().toISOString() }] } as never);
    await new Promise((r) => setTimeout(r, 400));
    expect(await api.verify(genuine)).toMatchObject({ role: 'viewer' });
    await client.hset(key, 'record', forged, 'mac', signRecord(randomBytes(32), forged));
    await new Promise((r) => setTimeout(r, 400));
    expect(await api.verify(planted)).toBeNull();
    expect(await api.verify(genuine)).toMatchObject({ name: 'dash', role: 'viewer' });
    // A host starting now knows no genuine record: nothing is valid, the forged token neither.
    const fresh = await host(p);
    expect(await fresh.verify(planted)).toBeNull();
    expect(logs.join('\n')).toMatch(/not signed by MASTER_KEY/);
    // Nobody builds on the forged record: re-signing it would make the intruder's token genuine.
    await expect(api.create('more', 'viewer')).rejects.toThrow(/not signed by MASTER_KEY.*delete the Redis key/);
    await expect(api.list()).rejects.toThrow(/not signed by MASTER_KEY/);
    // Starting over, as the message says, works.
    await client.del(key);
    const again = await api.create('dash2', 'viewer');
    expect(await fresh.verify(again)).toMatchObject({ name: 'dash2' });
    expect(await fresh.verify(planted)).toBeNull();
  });

  it('refuses an older record put back to revive a revoked token, across a restart of the host', async () => {
    const p = prefix();
    const logs: string[] = [];
    const stateDir = mkdtempSync(join(tmpdir(), 'snapkeep-tokhost-'));
    const api = await host(p, { logs, stateDir });
    const leaked = await api.create('leaked', 'superadmin');
    const keep = await api.create('keep', 'viewer');
    const key = apiTokensKey(p);
    const saved = await client.hmget(key, 'record', 'mac');
    await api.revoke('leaked');
    expect(await api.verify(leaked)).toBeNull();

    await client.hset(key, 'record', saved[0]!, 'mac', saved[1]!);
    await new Promise((r) => setTimeout(r, 400));
    expect(await api.verify(leaked)).toBeNull();
    expect(await api.verify(keep)).not.toBeNull();
    expect(logs.join('\n')).toMatch(/older than one this host has seen/);
    await expect(api.create('other', 'viewer')).rejects.toThrow(/older than one this host has seen/);

    // The same host restarted (a new process, the same STATE_DIR) remembers the newest version.
    const restarted = await host(p, { stateDir });
    expect(await restarted.verify(leaked)).toBeNull();
  });

  it('accepts a record signed under MASTER_KEY_PREVIOUS and re-signs it with the new key on the next write', async () => {
    const p = prefix();
    const oldKey = randomBytes(32);
    const before = await host(p, { key: oldKey });
    const token = await before.create('ci', 'viewer');
    const after = await host(p, { previous: [oldKey] });
    expect(await after.verify(token)).toMatchObject({ name: 'ci' });
    await after.create('new', 'viewer');
    const [text, mac] = await client.hmget(apiTokensKey(p), 'record', 'mac');
    expect(mac).toBe(signRecord(masterKey, text!));
    // A host still on the old key alone now refuses the record (and says why) but keeps what it had.
    expect(await before.verify(token)).not.toBeNull();
  });

  it('survives a restart of Redis with AOF', async () => {
    const p = prefix();
    const api = await host(p);
    const token = await api.create('durable', 'superadmin');
    await redis.stop();
    // Redis away: a known token still works (the process answers from what it holds).
    expect(await api.verify(token)).not.toBeNull();
    await redis.start();
    const later = await host(p);
    expect(await later.verify(token)).toMatchObject({ name: 'durable' });
  });

  it('moves the tokens of a host\'s STATE_DIR/snapkeep.db into Redis once, and needs MASTER_KEY', async () => {
    const p = prefix();
    const stateDir = mkdtempSync(join(tmpdir(), 'snapkeep-tokhost-'));
    dirs.push(stateDir);
    const local = new SqliteTokenStore(stateDir);
    const old = await local.create('from-before', 'superadmin');
    await local.close();
    const config = loadConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: p, STATE_DIR: stateDir, MASTER_KEY: masterKey.toString('hex') });
    const connection = new Redis(redis.url);
    try {
      const store = await openTokenStore(config, { redis: connection });
      expect(await store.verify(old)).toMatchObject({ name: 'from-before', role: 'superadmin' });
      await store.close();
      const reopened = new SqliteTokenStore(stateDir);
      expect(await reopened.list()).toEqual([]);
      await reopened.close();
      const noKey = loadConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: p, STATE_DIR: stateDir });
      await expect(openTokenStore(noKey, { redis: connection })).rejects.toThrow(/MASTER_KEY: is required when REDIS_URL is set/);
    } finally {
      connection.disconnect();
    }
  });
});
