import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { zstdCompressSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { SnapkeepError } from '../../src/errors.js';
import { newBackupId } from '../../src/backups/backup-id.js';
import { loadConfig } from '../../src/config/load-config.js';
import { backup } from '../../workers/backup/backup.js';
import { prune } from '../../workers/prune/prune.js';
import { restore } from '../../workers/restore/restore.js';
import { encryptBuffer } from '../helpers/broken-backups.js';
import { jobContext, newBackupIdLike, openWorkspace, workspaceConfig, type RestoreWorkspace } from '../helpers/restore-harness.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

/**
 * The review of issue 13's work, from the side of a bucket writer holding no key: objects moved,
 * swapped or bit-flipped (AES-GCM is malleable until its tag, at the very end). A restore must
 * refuse them early, write nothing beside DB_PATH and never expand one without bound.
 */
describe('objects planted or altered in the bucket', () => {
  let ws: RestoreWorkspace | undefined;
  let config: Config;
  afterEach(() => ws?.cleanup());

  const setUp = (rows = 200): void => {
    ws = openWorkspace('local');
    createSampleDatabase(ws.dbPath, rows);
    config = workspaceConfig(ws, { master: randomBytes(32).toString('hex') });
  };
  const bytesOf = async (name: string): Promise<{ bytes: Buffer; metadata: Record<string, string> }> => {
    const object = await ws!.store.get(name);
    const chunks: Buffer[] = [];
    for await (const chunk of object.body) chunks.push(chunk as Buffer);
    return { bytes: Buffer.concat(chunks), metadata: object.metadata };
  };
  const failure = async (id: string): Promise<SnapkeepError> =>
    restore({ backupId: id, force: true }, jobContext(config, ws!.store)).then(() => { throw new Error('restored'); }, (e: unknown) => e as SnapkeepError);
  const leftBeside = (): string[] => readdirSync(join(ws!.root, 'live')).filter((n) => !n.startsWith('app.db') || n.includes('.restore.'));

  it('refuses a version byte turned from 1 to 3 (a would-be decompression bomb) before decompressing anything', async () => {
    setUp();
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    const { bytes, metadata } = await bytesOf(`${made.backupId}.crbu`);
    bytes[4] = 3;
    await ws!.store.put(`${made.backupId}.crbu`, Readable.from([bytes]), { metadata });
    const error = await failure(made.backupId);
    expect(error.code).toBe('unsupported_version');
    expect(leftBeside()).toEqual([]);
  });

  it('stops a zstd frame with no authenticated record at 100 times the object\'s size, leaving nothing', async () => {
    setUp();
    // 64 MiB of zeros compresses to a few KiB: a bomb that still carries a valid tag.
    const bomb = zstdCompressSync(Buffer.alloc(64 * 1024 * 1024));
    const id = newBackupIdLike();
    await ws!.store.put(`${id}.crbu`, Readable.from([await encryptBuffer(config.masterKey!, bomb, 3)]), { metadata: {} });
    const error = await failure(id);
    expect(error.message).toContain('more than 100 times its size');
    expect(leftBeside()).toEqual([]);
  });

  it('refuses another backup\'s ciphertext swapped in under a backup\'s name (its recorded content differs)', async () => {
    setUp(100);
    const older = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    const db = new Database(ws!.dbPath);
    db.exec("INSERT INTO notes (body) SELECT 'newer ' || id FROM notes");
    db.close();
    const newer = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    // The intruder keeps the newer backup's name and authenticated record, and puts the older bytes under it.
    const oldBytes = (await bytesOf(`${older.backupId}.crbu`)).bytes;
    const { metadata } = await bytesOf(`${newer.backupId}.crbu`);
    await ws!.store.put(`${newer.backupId}.crbu`, Readable.from([oldBytes]), { metadata });
    const error = await failure(newer.backupId);
    expect(error.code).toBe('integrity_failed');
    expect(error.message).toContain(`does not hold what backup ${newer.backupId} recorded`);
    expect(leftBeside()).toEqual([]);
  });

  it('keeps a copy planted under a newer id out of retention, so it cannot displace the genuine backups', async () => {
    setUp(60);
    config = loadConfig({ ...ws!.storeEnv, DB_PATH: ws!.dbPath, STATE_DIR: ws!.stateDir, MASTER_KEY: config.masterKey!.toString('hex'), BACKUP_RETAIN_DAILY_DAYS: '1', BACKUP_RETAIN_WEEKLY_WEEKS: '0' });
    const older = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    // Ids have one-second resolution: in the same second the two would order by their random suffix.
    await new Promise((r) => setTimeout(r, 1010 - (Date.now() % 1000)));
    const genuine = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    // The intruder copies the older ciphertext under an id a few seconds newer than the genuine one.
    const planted = newBackupId(new Date(Date.now() + 5000));
    await ws!.store.put(`${planted}.crbu`, Readable.from([(await bytesOf(`${older.backupId}.crbu`)).bytes]), { metadata: {} });
    const result = await prune({ dryRun: false }, jobContext(config, ws!.store));
    expect(result.kept).toContain(genuine.backupId);
    expect(result.reasons[planted]).toEqual(['unverified origin']);
    expect(result.deleted).toEqual([older.backupId]);
    expect((await ws!.store.list()).map((o) => o.name).sort()).toEqual([`${genuine.backupId}.crbu`, `${planted}.crbu`].sort());
  });

  it('restores an object without an authenticated record (an older or foreign CRBU writer) only as unverified', async () => {
    setUp(50);
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    const { bytes } = await bytesOf(`${made.backupId}.crbu`);
    await ws!.store.put(`${made.backupId}.crbu`, Readable.from([bytes]), { metadata: {} });
    const restored = await restore({ backupId: made.backupId, force: true }, jobContext(config, ws!.store));
    expect(restored.origin).toBe('unverified');
    expect(readNotes(restored.path)).toHaveLength(50);
    const genuine = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    expect((await restore({ backupId: genuine.backupId }, jobContext(config, ws!.store))).origin).toBe('verified');
  });
});
