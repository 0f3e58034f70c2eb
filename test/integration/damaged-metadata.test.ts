import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newBackupId } from '../../src/backups/backup-id.js';
import { listBackups } from '../../src/backups/list-backups.js';
import { loadConfig } from '../../src/config/load-config.js';
import { SnapkeepError } from '../../src/errors.js';
import type { BackupStore } from '../../src/storage/backup-store.js';
import { LocalBackupStore } from '../../src/storage/local-store.js';
import { S3BackupStore } from '../../src/storage/s3-store.js';
import { prune } from '../../workers/prune/prune.js';
import { collectingLogger } from '../helpers/in-process-parts.js';
import { listKeys } from '../helpers/s3-inspect.js';
import { startS3Server, storeConfigFor, type TestS3Server } from '../helpers/s3-server.js';

/**
 * Issue 13, finding 8, from the side of whoever can write to BACKUP_LOCAL_DIR or the bucket: one
 * damaged sidecar (or garbage object metadata) must cost that one backup its metadata, nothing
 * more: listings, the API and prunes go on, and a prune never deletes what it cannot read.
 */
const DAY = 86_400_000;
const now = new Date();
const daysAgo = (days: number): Date => new Date(now.getTime() - days * DAY);
// An age archive's metadata says who can open it: the listing must read it.
const AGE_METADATA = { 'snapkeep-format': 'archive-age', 'snapkeep-encryption': 'passphrase' };

async function put(store: BackupStore, name: string, metadata?: Record<string, string>): Promise<void> {
  await store.put(name, Readable.from([Buffer.from(`bytes of ${name}`)]), metadata ? { metadata } : {});
}

/** pruneNow runs the prune job function as a worker would, keeping one day. */
async function pruneNow(store: BackupStore, logs: string[]): Promise<{ kept: string[]; deleted: string[]; reasons: Record<string, string[]> }> {
  const config = loadConfig({ STATE_DIR: join(tmpdir(), 'snapkeep-unused'), BACKUP_RETAIN_DAILY_DAYS: '1', BACKUP_RETAIN_WEEKLY_WEEKS: '0' });
  return prune({ dryRun: false }, { config, store, logger: collectingLogger(logs), reportProgress: () => undefined });
}

describe('a damaged sidecar in BACKUP_LOCAL_DIR', () => {
  let dir: string;
  let store: LocalBackupStore;
  const damagedId = newBackupId(daysAgo(3));
  const goodAgeId = newBackupId(daysAgo(2));
  const olderId = newBackupId(daysAgo(4));
  const newestId = newBackupId(daysAgo(0));
  const sidecar = (): string => join(dir, `.${damagedId}.tar.age.meta.json`);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapkeep-damaged-'));
    store = new LocalBackupStore({ type: 'local', dir });
    await put(store, `${damagedId}.tar.age`, AGE_METADATA);
    await put(store, `${goodAgeId}.tar.age`, AGE_METADATA);
    await put(store, `${olderId}.crbu`);
    await put(store, `${newestId}.crbu`);
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it.each([
    ['cut short', '{"snapkeep-format":"archive-age","snapkeep-encr'],
    ['not JSON at all', '\u0000\u0001garbage'],
    ['an array', '["passphrase"]'],
    ['a value that is not a string', '{"snapkeep-encryption":{"$gt":""}}'],
  ])('%s: that backup lists as encryption "unknown" with an error naming the sidecar; the others list as before', async (_label, text) => {
    await writeFile(sidecar(), text);
    const logs: string[] = [];
    const listed = await listBackups(store, { logger: collectingLogger(logs) });
    expect(listed.map((b) => [b.id, b.encryption])).toEqual([
      [newestId, 'master-key'], [goodAgeId, 'passphrase'], [damagedId, 'unknown'], [olderId, 'master-key'],
    ]);
    const damaged = listed.find((b) => b.id === damagedId)!;
    expect(damaged.error).toBe(`the metadata sidecar ${sidecar()} is damaged (not a JSON object of strings); remove it to use the backup without its metadata`);
    expect(listed.filter((b) => b.error !== undefined)).toHaveLength(1);
    expect(logs.some((line) => line.includes('"warn"') && line.includes(sidecar()))).toBe(true);
  });

  it('reading that backup (a restore) fails naming the sidecar, not with a bare JSON error', async () => {
    await writeFile(sidecar(), '{"snapkeep-encr');
    for (const read of [() => store.head(`${damagedId}.tar.age`), () => store.get(`${damagedId}.tar.age`)]) {
      const error = await read().then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(SnapkeepError);
      expect(error).toMatchObject({ code: 'metadata_damaged', retryable: false });
      expect((error as Error).message).toContain(sidecar());
    }
  });

  it('a prune goes on, deletes what the policy says, and never deletes the backup it cannot read', async () => {
    await writeFile(sidecar(), 'garbage');
    const logs: string[] = [];
    const result = await pruneNow(store, logs);
    expect(result.deleted.sort()).toEqual([goodAgeId, olderId].sort());
    expect(result.kept).toEqual([newestId, damagedId]);
    expect(result.reasons[damagedId]).toEqual(['unreadable metadata']);
    expect((await store.list()).map((o) => o.name).sort()).toEqual([`${damagedId}.tar.age`, `${newestId}.crbu`].sort());
    expect(logs.some((line) => line.includes('backup metadata unreadable'))).toBe(true);
  });

  it('with the sidecar removed, as the error advises, the backup lists from its header again', async () => {
    await writeFile(sidecar(), 'garbage');
    await rm(sidecar());
    const listed = await listBackups(store);
    // The test's bytes have no scrypt stanza: read as public-key, as any age file without metadata.
    expect(listed.find((b) => b.id === damagedId)).toMatchObject({ encryption: 'public-key' });
    expect(listed.every((b) => b.error === undefined)).toBe(true);
  });
});

describe('garbage object metadata in the bucket, written with the AWS CLI', () => {
  let s3: TestS3Server;
  let dir: string;
  beforeAll(async () => {
    s3 = await startS3Server({ bucket: 'snapkeep-garbage' });
    dir = await mkdtemp(join(tmpdir(), 'snapkeep-garbage-'));
    // Path-style requests: a bucket name cannot be a host name under 127.0.0.1.
    await writeFile(join(dir, 'aws-config'), '[default]\ns3 =\n    addressing_style = path\n');
  });
  afterAll(async () => {
    await s3?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** awsPut is the intruder: `aws s3api put-object` with metadata of its choosing. */
  async function awsPut(key: string, metadata: string): Promise<void> {
    const body = join(dir, 'body');
    await writeFile(body, 'age-encryption.org/v1\n-> scrypt c2FsdA 18\n');
    await promisify(execFile)('aws', [
      '--endpoint-url', s3.endpoint, '--cli-connect-timeout', '5', '--cli-read-timeout', '10',
      's3api', 'put-object', '--bucket', s3.bucket, '--key', key, '--body', body, '--metadata', metadata,
    ], {
      env: {
        PATH: process.env.PATH ?? '', HOME: dir, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: join(dir, 'aws-config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
      },
      timeout: 60_000,
    });
  }

  it('lists that backup as unknown with an error naming its key, and a prune keeps it and goes on', async () => {
    const prefix = 'backups/';
    const store = new S3BackupStore(storeConfigFor(s3, prefix));
    const planted = newBackupId(daysAgo(5));
    const older = newBackupId(daysAgo(6));
    const newest = newBackupId(daysAgo(0));
    await awsPut(`${prefix}${planted}.tar.age`, 'snapkeep-encryption=x0x0-garbage-%00,snapkeep-format=archive-age');
    await put(store, `${older}.tar.age`, AGE_METADATA);
    await put(store, `${newest}.crbu`);

    const listed = await listBackups(store);
    expect(listed.map((b) => [b.id, b.encryption])).toEqual([[newest, 'master-key'], [planted, 'unknown'], [older, 'passphrase']]);
    expect(listed.find((b) => b.id === planted)!.error).toBe(`${prefix}${planted}.tar.age: its snapkeep-encryption metadata is not one snapkeep writes`);

    const logs: string[] = [];
    const result = await pruneNow(store, logs);
    expect(result.deleted).toEqual([older]);
    expect(result.reasons[planted]).toEqual(['unreadable metadata']);
    expect((await listKeys(s3, prefix)).sort()).toEqual([`${prefix}${newest}.crbu`, `${prefix}${planted}.tar.age`].sort());
  });
});
