import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { factsMetadata } from '../../src/backups/backup-facts.js';
import { SnapkeepError } from '../../src/errors.js';
import { readFingerprint } from '../../src/snapshot/snapshot-database.js';
import { backup } from '../../workers/backup/backup.js';
import { restore, restoreTargetPath } from '../../workers/restore/restore.js';
import {
  BROKEN_BACKUPS, encryptBuffer, liveDbState, makeDatabaseImage, sha256File, snapkeepMetadata, strayFiles, writeBytes, type LiveDbState,
} from '../helpers/broken-backups.js';
import {
  countingStore, jobContext, newBackupIdLike, openWorkspace, putObject, readSampleVector, temporaryLeftovers, workspaceConfig, type RestoreWorkspace,
} from '../helpers/restore-harness.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { readNotes } from '../helpers/sample-database.js';

const KEY_A = randomBytes(32);
const KEY_B = randomBytes(32);
const hex = (key: Buffer): string => key.toString('hex');

let s3: TestS3Server;
beforeAll(async () => { s3 = await startS3Server({ bucket: 'snapkeep-restore' }); });
afterAll(async () => { await s3?.close(); });

async function failure(promise: Promise<unknown>): Promise<SnapkeepError> {
  const error = await promise.then(() => { throw new Error('the restore succeeded'); }, (e: unknown) => e);
  expect(error).toBeInstanceOf(SnapkeepError);
  return error as SnapkeepError;
}

describe.each(['local', 's3'] as const)('restore from a %s store', (kind) => {
  let ws: RestoreWorkspace;
  let image: Buffer;
  let before: LiveDbState;

  beforeEach(() => {
    ws = openWorkspace(kind, s3);
    image = makeDatabaseImage(ws.dbPath);
    before = liveDbState(ws.dbPath);
  });

  afterEach(() => {
    try {
      // The live database is never written, whatever the restore did.
      expect(liveDbState(ws.dbPath)).toEqual(before);
      expect(temporaryLeftovers(ws.stateDir)).toEqual([]);
    } finally {
      ws.cleanup();
    }
  });

  it('restores a snapkeep backup beside DB_PATH: verified, mode 0600, every row', async () => {
    const config = workspaceConfig(ws, { master: hex(KEY_A) });
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws.store));
    const ctx = jobContext(config, ws.store);
    const result = await restore({ backupId: made.backupId }, ctx);
    const target = restoreTargetPath(ws.dbPath, made.backupId);
    expect(result).toMatchObject({ backupId: made.backupId, path: target, size: statSync(target).size, keyIndex: 0 });
    expect(readNotes(target)).toEqual(readNotes(ws.dbPath));
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(ctx.phases).toEqual(['download', 'verify']);
    expect(strayFiles(ws.dbPath)).toEqual([`app.db.restore.${made.backupId}`]);
  });

  it('restores the shared vector sample.db.crbu byte for byte', async () => {
    const vector = readSampleVector();
    const id = newBackupIdLike();
    await putObject(ws.store, id, { bytes: vector.crbu, metadata: {} });
    const result = await restore({ backupId: id }, jobContext(workspaceConfig(ws, { master: hex(vector.masterKey) }), ws.store));
    expect(sha256File(result.path)).toBe(vector.plaintextSha256);
    expect(strayFiles(ws.dbPath)).toEqual([`app.db.restore.${id}`]);
  });

  it.each(BROKEN_BACKUPS)('refuses $name with its reason, at once, leaving nothing beside DB_PATH', async (broken) => {
    const id = newBackupIdLike();
    await putObject(ws.store, id, await broken.build(image, KEY_A));
    const error = await failure(restore({ backupId: id }, jobContext(workspaceConfig(ws, { master: hex(KEY_A) }), ws.store)));
    expect(error.message).toMatch(broken.reason);
    expect(error.code).toBe(broken.code);
    // Not retryable: BullMQ fails the job at once (UnrecoverableError) instead of burning its attempts.
    expect(error.retryable).toBe(false);
    expect(strayFiles(ws.dbPath)).toEqual([]);
  });

  it('calls a download cut short "backup is truncated", and lets a retry try again', async () => {
    const id = newBackupIdLike();
    await putObject(ws.store, id, { bytes: await encryptBuffer(KEY_A, image), metadata: snapkeepMetadata(KEY_A) });
    // The store announces the full size but the body ends early, as a dropped connection might.
    const cut = countingStore(ws.store, async (_name, object) => {
      const bytes: Buffer[] = [];
      for await (const chunk of object.body) bytes.push(chunk as Buffer);
      return { ...object, body: Readable.from([Buffer.concat(bytes).subarray(0, object.size - 100)]) };
    });
    const error = await failure(restore({ backupId: id }, jobContext(workspaceConfig(ws, { master: hex(KEY_A) }), cut)));
    expect(error.message).toBe('backup is truncated');
    expect(error.retryable).toBe(true);
    expect(strayFiles(ws.dbPath)).toEqual([]);
  });

  it('removes its temporary file when aborted mid-download (worker shutdown)', async () => {
    const id = newBackupIdLike();
    const bytes = await encryptBuffer(KEY_A, image);
    await putObject(ws.store, id, { bytes, metadata: snapkeepMetadata(KEY_A) });
    const controller = new AbortController();
    // Half the object, then a body that never ends: the abort is the only way out.
    const stalled = countingStore(ws.store, async (_name, object) => {
      object.body.destroy();
      const body = new Readable({ read() {} });
      body.push(bytes.subarray(0, bytes.length >> 1));
      setTimeout(() => controller.abort(new Error('worker closing')), 100);
      return { ...object, body };
    });
    const ctx = { ...jobContext(workspaceConfig(ws, { master: hex(KEY_A) }), stalled), signal: controller.signal };
    await expect(restore({ backupId: id }, ctx)).rejects.toThrow();
    expect(strayFiles(ws.dbPath)).toEqual([]);
  });

  it('restores a backup made under an old key once it is in MASTER_KEY_PREVIOUS, and not before', async () => {
    const made = await backup({ trigger: 'cli' }, jobContext(workspaceConfig(ws, { master: hex(KEY_A) }), ws.store));

    const rotatedOnly = countingStore(ws.store);
    const refused = await failure(restore({ backupId: made.backupId }, jobContext(workspaceConfig(ws, { master: hex(KEY_B) }), rotatedOnly)));
    expect(refused.message).toBe('wrong master key or corrupted backup');
    expect(refused.retryable).toBe(false);
    expect(strayFiles(ws.dbPath)).toEqual([]);

    for (const [previous, keyIndex] of [[[KEY_A], 1], [[randomBytes(32), KEY_A], 2]] as const) {
      const rotated = countingStore(ws.store);
      const config = workspaceConfig(ws, { master: hex(KEY_B), previous: previous.map(hex) });
      const result = await restore({ backupId: made.backupId, force: true }, jobContext(config, rotated));
      expect(result.keyIndex).toBe(keyIndex);
      expect(readNotes(result.path)).toEqual(readNotes(ws.dbPath));
      // The fingerprint in the metadata put KEY_A first: one download, not one per key tried.
      expect(rotated.gets).toEqual([`${made.backupId}.crbu`]);
    }
  });

  it('tries every key in order when a backup records no fingerprint (other CRBU writers)', async () => {
    const vector = readSampleVector();
    const id = newBackupIdLike();
    await putObject(ws.store, id, { bytes: vector.crbu, metadata: {} });
    const store = countingStore(ws.store);
    const config = workspaceConfig(ws, { master: hex(KEY_B), previous: [hex(vector.masterKey)] });
    const result = await restore({ backupId: id }, jobContext(config, store));
    expect(result.keyIndex).toBe(1);
    expect(store.gets).toHaveLength(2);
    expect(sha256File(result.path)).toBe(vector.plaintextSha256);
  });

  it('restores a WAL-mode database (another writer\'s) with its fingerprint, leaving no -wal or -shm beside DB_PATH', async () => {
    // A snapkeep snapshot is never in WAL mode; a file whose header says WAL makes every read-only
    // connection create -wal and -shm: the integrity check and the fingerprint then take turns.
    const elsewhere = mkdtempSync(join(tmpdir(), 'snapkeep-wal-'));
    try {
      const source = join(elsewhere, 'wal.db');
      const db = new Database(source);
      db.pragma('journal_mode = WAL');
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT); CREATE INDEX t_body ON t (body);");
      const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
      for (let i = 0; i < 2000; i++) insert.run(`row ${i} ${randomBytes(16).toString('hex')}`);
      db.close();
      const plaintext = readFileSync(source);
      expect([plaintext[18], plaintext[19]]).toEqual([2, 2]);
      const id = newBackupIdLike();
      const facts = factsMetadata(id, { journalMode: 'wal', fingerprint: await readFingerprint(source), size: plaintext.length, format: 'crbu1' }, KEY_A);
      await putObject(ws.store, id, { bytes: await encryptBuffer(KEY_A, plaintext), metadata: { ...snapkeepMetadata(KEY_A), ...facts } });
      const result = await restore({ backupId: id }, jobContext(workspaceConfig(ws, { master: hex(KEY_A) }), ws.store));
      expect(result.origin).toBe('verified');
      expect(result.journalMode).toBe('wal');
      expect(strayFiles(ws.dbPath)).toEqual([`app.db.restore.${id}`]);
      const restored = new Database(result.path, { readonly: true });
      try {
        expect(restored.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2000 });
      } finally {
        restored.close();
      }
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('stops at the key the fingerprint names when that backup is damaged, without trying the others', async () => {
    const id = newBackupIdLike();
    const [flipped] = BROKEN_BACKUPS;
    await putObject(ws.store, id, await flipped!.build(image, KEY_A));
    const store = countingStore(ws.store);
    const config = workspaceConfig(ws, { master: hex(KEY_B), previous: [hex(KEY_A)] });
    const error = await failure(restore({ backupId: id }, jobContext(config, store)));
    expect(error.message).toBe('wrong master key or corrupted backup');
    expect(store.gets).toHaveLength(1);
  });

  it('leaves an existing restore untouched unless forced', async () => {
    const config = workspaceConfig(ws, { master: hex(KEY_A) });
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws.store));
    const target = restoreTargetPath(ws.dbPath, made.backupId);
    writeBytes(target, 'operator notes, not a database');
    const mtime = statSync(target).mtimeMs;
    const error = await failure(restore({ backupId: made.backupId }, jobContext(config, ws.store)));
    expect(error.code).toBe('restore_exists');
    expect(readFileSync(target, 'utf8')).toBe('operator notes, not a database');
    expect(statSync(target).mtimeMs).toBe(mtime);
    expect(strayFiles(ws.dbPath)).toEqual([`app.db.restore.${made.backupId}`]);

    await restore({ backupId: made.backupId, force: true }, jobContext(config, ws.store));
    expect(readNotes(target)).toEqual(readNotes(ws.dbPath));
    expect(strayFiles(ws.dbPath)).toEqual([`app.db.restore.${made.backupId}`]);
  });

  it('never replaces a restore that appears while the backup downloads', async () => {
    const config = workspaceConfig(ws, { master: hex(KEY_A) });
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws.store));
    const target = restoreTargetPath(ws.dbPath, made.backupId);
    const racing = countingStore(ws.store, async (_name, object) => {
      writeBytes(target, 'written by a concurrent restore');
      return object;
    });
    const error = await failure(restore({ backupId: made.backupId }, jobContext(config, racing)));
    expect(error.code).toBe('restore_exists');
    expect(readFileSync(target, 'utf8')).toBe('written by a concurrent restore');
    expect(strayFiles(ws.dbPath)).toEqual([`app.db.restore.${made.backupId}`]);
  });

  it('answers backup_not_found for an unknown id and refuses a malformed one before any GET', async () => {
    const store = countingStore(ws.store);
    const config = workspaceConfig(ws, { master: hex(KEY_A) });
    expect((await failure(restore({ backupId: '20200101T000000Z-00000000' }, jobContext(config, store)))).code).toBe('backup_not_found');
    for (const id of ['..', '../app', '20200101T000000Z-0000000/', 'x'.repeat(300), '\0']) {
      expect((await failure(restore({ backupId: id }, jobContext(config, store)))).code).toBe('invalid_backup_id');
    }
    expect(store.gets).toEqual([]);
    expect(strayFiles(ws.dbPath)).toEqual([]);
  });
});
