import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { SnapkeepError } from '../../src/errors.js';
import { createLogger } from '../../src/logging/create-logger.js';
import type { BackupStore, StoredObject } from '../../src/storage/backup-store.js';
import { LocalBackupStore } from '../../src/storage/local-store.js';
import { S3BackupStore } from '../../src/storage/s3-store.js';
import type { JobContext } from '../../workers/runtime/job-context.js';
import { prune } from '../../workers/prune/prune.js';
import { removeDir } from '../helpers/redis-server.js';
import { startS3Server, storeConfigFor, type TestS3Server } from '../helpers/s3-server.js';

const AT = '2026-03-11T12:00:00.000Z';
// Ten daily backups up to AT's day: with 3 days and 0 weeks, 7 of them go.
const DAILY = Array.from({ length: 10 }, (_, k) => `202603${String(11 - k).padStart(2, '0')}T020000Z-0000000${k}.crbu`);
const FOREIGN = ['notes.txt', '20260301T020000Z-00000000.crbu.bak', '20260231T020000Z-00000000.crbu'];

/** CountingStore wraps a store, counts deletes, and can make list() fail after part of the listing was read. */
class CountingStore implements BackupStore {
  deletes: string[][] = [];
  failListing = false;
  constructor(private readonly inner: BackupStore) {}
  get description(): string { return `counting ${this.inner.description}`; }
  put: BackupStore['put'] = (...args) => this.inner.put(...args);
  get: BackupStore['get'] = (...args) => this.inner.get(...args);
  head: BackupStore['head'] = (...args) => this.inner.head(...args);
  check: BackupStore['check'] = () => this.inner.check();
  keyOf: BackupStore['keyOf'] = (name) => this.inner.keyOf(name);
  async list(): Promise<StoredObject[]> {
    const objects = await this.inner.list();
    // As a store whose second page fails: the first page was read, then the listing broke.
    if (this.failListing) throw new SnapkeepError('store_unavailable', `listing failed after ${Math.ceil(objects.length / 2)} objects`, { retryable: true });
    return objects;
  }
  async delete(names: string[]): Promise<void> {
    this.deletes.push(names);
    await this.inner.delete(names);
  }
}

function context(store: BackupStore, dir: string): JobContext {
  const config = loadConfig({
    BACKUP_LOCAL_DIR: dir, MASTER_KEY: 'ab'.repeat(32), STATE_DIR: join(dir, 'state'), DB_PATH: join(dir, 'app.db'),
    BACKUP_RETAIN_DAILY_DAYS: '3', BACKUP_RETAIN_WEEKLY_WEEKS: '0',
  });
  return { config, store, logger: createLogger({ level: 'error', format: 'json' }), reportProgress: () => undefined };
}

async function fill(store: BackupStore, names: string[]): Promise<void> {
  for (const name of names) await store.put(name, Readable.from([Buffer.from('dummy')]));
}

describe('prune job against a directory store', () => {
  let dir: string;
  let store: CountingStore;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-prune-'));
    store = new CountingStore(new LocalBackupStore({ type: 'local', dir: join(dir, 'backups') }));
    await fill(store, [...DAILY, ...FOREIGN]);
  });
  afterAll(() => { if (dir) removeDir(dir); });

  const files = (): string[] => readdirSync(join(dir, 'backups')).sort();

  it('deletes nothing when the listing fails part-way, and fails the job so it is retried', async () => {
    store.failListing = true;
    try {
      await expect(prune({ dryRun: false, at: AT }, context(store, dir))).rejects.toMatchObject({ code: 'store_unavailable', retryable: true });
      await expect(prune({ dryRun: false, at: AT, force: true }, context(store, dir))).rejects.toThrow(/listing failed/);
    } finally {
      store.failListing = false;
    }
    expect(store.deletes).toEqual([]);
    expect(files()).toEqual([...DAILY, ...FOREIGN].sort());
  });

  it('a dry run plans but never calls delete', async () => {
    const result = await prune({ dryRun: true, at: AT }, context(store, dir));
    expect(result).toMatchObject({ dryRun: true, kept: DAILY.slice(0, 3).map((n) => n.slice(0, 25)) });
    expect(result.deleted).toEqual(DAILY.slice(3).map((n) => n.slice(0, 25)));
    expect(result.reasons[DAILY[0]!.slice(0, 25)]).toEqual(['daily 2026-03-11', 'newest']);
    expect(store.deletes).toEqual([]);
    expect(files()).toHaveLength(DAILY.length + FOREIGN.length);
  });

  it('deletes the planned backups in one call and never a foreign object', async () => {
    const result = await prune({ dryRun: false, at: AT }, context(store, dir));
    expect(store.deletes).toEqual([DAILY.slice(3)]);
    expect(result.deleted).toHaveLength(7);
    expect(files()).toEqual([...DAILY.slice(0, 3), ...FOREIGN].sort());
  });

  it('refuses a time that is not one', async () => {
    await expect(prune({ dryRun: true, at: 'soon' }, context(store, dir))).rejects.toMatchObject({ code: 'invalid_config' });
  });
});

describe('prune job against S3', () => {
  let s3: TestS3Server;
  let dir: string;
  beforeAll(async () => {
    s3 = await startS3Server();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-prune-s3-'));
  });
  afterAll(async () => {
    await s3?.close();
    if (dir) removeDir(dir);
  });

  it('deletes in DeleteObjects batches, across listing pages, and leaves foreign keys', async () => {
    const config = storeConfigFor(s3);
    const store = new S3BackupStore(config, { listPageSize: 4, deleteBatchSize: 3 });
    await fill(store, [...DAILY, ...FOREIGN]);
    s3.requests.length = 0;
    const result = await prune({ dryRun: false, at: AT }, context(store, dir));
    expect(result.deleted).toHaveLength(7);
    const batches = s3.requests.filter((r) => r.method === 'POST' && /[?&]delete(=|&|$)/.test(r.url));
    expect(batches).toHaveLength(3); // 3 + 3 + 1
    const listings = s3.requests.filter((r) => r.method === 'GET' && r.url.includes('list-type=2'));
    expect(listings.length).toBeGreaterThanOrEqual(4); // 13 objects, 4 a page
    expect((await store.list()).map((o) => o.name).sort()).toEqual([...DAILY.slice(0, 3), ...FOREIGN].sort());
  });
});
