import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newBackupId } from '../../src/backups/backup-id.js';
import { listBackups, listStoredBackups } from '../../src/backups/list-backups.js';
import { createLogger } from '../../src/logging/create-logger.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { BackupStore } from '../../src/storage/backup-store.js';
import { LocalBackupStore } from '../../src/storage/local-store.js';
import { createStore } from '../../src/storage/create-store.js';
import { S3BackupStore } from '../../src/storage/s3-store.js';
import { backup } from '../../workers/backup/backup.js';
import { prune } from '../../workers/prune/prune.js';
import { jobContext } from '../helpers/restore-harness.js';
import { s3ClientFor } from '../helpers/s3-inspect.js';
import { startS3Server, storeConfigFor, type TestS3Server } from '../helpers/s3-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

// DESIGN: `GET /api/backups` answers {id, createdAt, size, key}, and a backup's object key is
// `{BACKUP_S3_PREFIX}{id}.crbu`: the listed key is the full key in the bucket, so that
// `aws s3 cp s3://bucket/$key` finds it, while store calls keep taking the name under the prefix.

const day = (d: number): Date => new Date(Date.UTC(2026, 2, d, 2, 0, 0));

async function putBytes(store: BackupStore, name: string, bytes: Buffer, metadata?: Record<string, string>): Promise<void> {
  await store.put(name, Readable.from([bytes]), metadata ? { metadata } : {});
}

describe('listed keys are full object keys in the bucket', () => {
  let s3: TestS3Server;
  beforeAll(async () => { s3 = await startS3Server({ bucket: 'snapkeep-keys' }); });
  afterAll(async () => { await s3?.close(); });

  it.each(['backups/', 'team-a/snapkeep/'])('with the prefix %s, every kind lists as prefix + name, and that key exists in the bucket', async (prefix) => {
    const store = new S3BackupStore(storeConfigFor(s3, prefix));
    const database = newBackupId(day(10));
    const archive = newBackupId(day(11));
    const age = newBackupId(day(12));
    const bytes = Buffer.from('not really encrypted, but the store does not care');
    await putBytes(store, `${database}.crbu`, bytes);
    await putBytes(store, `${archive}.tar.crbu`, Buffer.concat([bytes, bytes]));
    // An age object's lock comes from its metadata, read with a HEAD by name: the name, not the key.
    await putBytes(store, `${age}.tar.age`, bytes, { 'snapkeep-encryption': 'passphrase' });
    // Something else under the prefix is never a backup.
    await s3ClientFor(s3).send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}notes.txt`, Body: 'x' }));

    const listed = await listBackups(store);
    expect(listed).toEqual([
      { id: age, createdAt: day(12).toISOString(), size: bytes.length, key: `${prefix}${age}.tar.age`, kind: 'archive', encryption: 'passphrase' },
      { id: archive, createdAt: day(11).toISOString(), size: bytes.length * 2, key: `${prefix}${archive}.tar.crbu`, kind: 'archive', encryption: 'master-key' },
      { id: database, createdAt: day(10).toISOString(), size: bytes.length, key: `${prefix}${database}.crbu`, kind: 'database', encryption: 'master-key' },
    ]);

    // Each listed key is exactly where a plain S3 client finds the object, with the listed size.
    const raw = s3ClientFor(s3);
    for (const entry of listed) {
      const head = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: entry.key }));
      expect(head.ContentLength, entry.key).toBe(entry.size);
    }
    const body = await raw.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${database}.crbu` }));
    expect(Buffer.from(await body.Body!.transformToByteArray())).toEqual(bytes);
    raw.destroy();
  });

  it('keeps the name under the prefix for store calls beside the full key', async () => {
    const prefix = 'backups/';
    const store = new S3BackupStore(storeConfigFor(s3, prefix));
    const [entry] = await listStoredBackups(store);
    expect(entry!.key).toBe(`${prefix}${entry!.name}`);
    await expect(store.head(entry!.name)).resolves.toMatchObject({ size: entry!.size });
    // The API's shape carries no internal name: `additionalProperties: false` in the OpenAPI schema.
    const [shown] = await listBackups(store);
    expect(Object.keys(shown!).sort()).toEqual(['createdAt', 'encryption', 'id', 'key', 'kind', 'size']);
  });

  it('a prune under a prefix deletes the objects at their full keys', async () => {
    const prefix = `prune-${Date.now()}/`;
    const store = new S3BackupStore(storeConfigFor(s3, prefix));
    const older = newBackupId(day(3));
    const newer = newBackupId(day(4));
    for (const id of [older, newer]) await putBytes(store, `${id}.crbu`, Buffer.from(id));
    const dir = await mkdtemp(join(tmpdir(), 'snapkeep-keys-'));
    try {
      const config = loadConfig({ STATE_DIR: dir, BACKUP_RETAIN_DAILY_DAYS: '1', BACKUP_RETAIN_WEEKLY_WEEKS: '0' });
      const result = await prune({ dryRun: false, at: day(4).toISOString() },
        { config, store, logger: createLogger({ level: 'error', format: 'json' }), reportProgress: () => undefined });
      expect(result).toMatchObject({ kept: [newer], deleted: [older] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const raw = s3ClientFor(s3);
    await expect(raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${older}.crbu` }))).rejects.toMatchObject({ name: 'NotFound' });
    await expect(raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${newer}.crbu` }))).resolves.toBeDefined();
    raw.destroy();
    expect((await listBackups(store)).map((b) => b.key)).toEqual([`${prefix}${newer}.crbu`]);
  });
});

describe('a backup job\'s result names its object by the key the listing shows', () => {
  // A nested prefix, so that a result key relative to it (the old `{id}.crbu`) could not pass.
  const prefix = 'team-a/snapkeep/';
  let s3: TestS3Server;
  let dir: string;
  let recipient: string;
  beforeAll(async () => {
    s3 = await startS3Server({ bucket: 'snapkeep-result-keys' });
    dir = await mkdtemp(join(tmpdir(), 'snapkeep-result-keys-'));
    createSampleDatabase(join(dir, 'app.db'), 50);
    await mkdir(join(dir, 'conf'));
    await writeFile(join(dir, 'conf', 'app.toml'), 'answer = 42\n');
    recipient = await identityToRecipient(await generateX25519Identity());
  });
  afterAll(async () => {
    await s3?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Every way a backup result is made: workers/backup/backup.ts (database, master key) and
  // workers/backup/backup-archive.ts (archive; age, here to BACKUP_AGE_RECIPIENTS).
  const kinds = [
    { label: 'database, master key', settings: (): Record<string, string> => ({}), suffix: '.crbu', kind: 'database', encryption: 'master-key' },
    { label: 'archive, master key', settings: () => ({ BACKUP_INCLUDE_PATHS: join(dir, 'conf') }), suffix: '.tar.crbu', kind: 'archive', encryption: 'master-key' },
    { label: 'database, age recipients', settings: () => ({ BACKUP_AGE_RECIPIENTS: recipient }), suffix: '.age', kind: 'database', encryption: 'public-key' },
  ] as const;

  it.each(kinds)('$label: result key = listed key = where a raw HeadObject finds the object', async ({ settings, suffix, kind, encryption }) => {
    const config = loadConfig({
      BACKUP_S3_ENDPOINT: s3.endpoint, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId,
      BACKUP_S3_SECRET_KEY: s3.secretAccessKey, BACKUP_S3_PREFIX: prefix,
      DB_PATH: join(dir, 'app.db'), STATE_DIR: join(dir, 'state'), MASTER_KEY: 'ab'.repeat(32), ...settings(),
    });
    const store = createStore(config.store!);
    const result = await backup({ trigger: 'api' }, jobContext(config, store));
    expect(result).toMatchObject({ key: `${prefix}${result.backupId}${suffix}`, kind, encryption });

    const listed = (await listBackups(store)).find((b) => b.id === result.backupId);
    expect(listed).toMatchObject({ key: result.key, size: result.size, kind, encryption });

    const raw = s3ClientFor(s3);
    try {
      const head = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: result.key }));
      expect(head.ContentLength).toBe(result.size);
    } finally {
      raw.destroy();
    }
  });
});

describe('a directory store lists the file name in BACKUP_LOCAL_DIR as the key', () => {
  it('lists {id}.crbu, the file that holds the backup', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snapkeep-keys-local-'));
    try {
      const store = new LocalBackupStore({ type: 'local', dir });
      const id = newBackupId(day(5));
      await putBytes(store, `${id}.crbu`, Buffer.from('bytes'));
      const [entry] = await listBackups(store);
      expect(entry).toMatchObject({ id, key: `${id}.crbu` });
      expect(await readFile(join(dir, entry!.key), 'utf8')).toBe('bytes');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
