import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { zstdCompressSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from '../../src/compression/parallel-zstd.js';
import { keyFingerprint } from '../../src/crypto/derive-backup-key.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { SnapkeepError } from '../../src/errors.js';
import { backup } from '../../workers/backup/backup.js';
import { restore } from '../../workers/restore/restore.js';
import { encryptBuffer } from '../helpers/broken-backups.js';
import { jobContext, newBackupIdLike, openWorkspace, type RestoreWorkspace } from '../helpers/restore-harness.js';
import { readNotes } from '../helpers/sample-database.js';

/** A database that compresses as real ones do: text columns and an index. */
function createTextDatabase(path: string, rows: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); CREATE INDEX notes_body ON notes (body)');
  const insert = db.prepare('INSERT INTO notes (body) VALUES (?)');
  db.transaction(() => { for (let i = 0; i < rows; i++) insert.run(`customer ${i % 997} ordered item ${i % 113} on day ${i % 365}: shipped`); })();
  db.close();
}

describe('zstd before encryption (BACKUP_COMPRESSION=zstd)', () => {
  let ws: RestoreWorkspace | undefined;
  afterEach(() => ws?.cleanup());

  const setUp = (env: Record<string, string> = {}, rows = 20_000): { config: Config; masterKey: string } => {
    ws = openWorkspace('local');
    if (rows > 0) createTextDatabase(ws.dbPath, rows);
    else new Database(ws.dbPath).close();
    const masterKey = randomBytes(32).toString('hex');
    const config = loadConfig({ ...ws.storeEnv, DB_PATH: ws.dbPath, STATE_DIR: ws.stateDir, MASTER_KEY: masterKey, BACKUP_COMPRESSION: 'zstd', ...env });
    return { config, masterKey };
  };
  const objectBytes = async (name: string): Promise<Buffer> => {
    const object = await ws!.store.get(name);
    const chunks: Buffer[] = [];
    for await (const chunk of object.body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const leftBesideDb = (): string[] => readdirSync(join(ws!.root, 'live')).filter((n) => !n.startsWith('app.db'));

  it('stores a database as CRBU version 3, several times smaller, and restores it row for row in WAL mode', async () => {
    const { config } = setUp();
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    expect(made.compression).toBe('zstd');
    const bytes = await objectBytes(`${made.backupId}.crbu`);
    expect(bytes.subarray(0, 5)).toEqual(Buffer.from([0x43, 0x52, 0x42, 0x55, 3]));
    expect(bytes.length * 3).toBeLessThan(made.databaseSize);
    const restored = await restore({ backupId: made.backupId }, jobContext(config, ws!.store));
    expect(readNotes(restored.path)).toEqual(readNotes(ws!.dbPath));
    expect(restored.journalMode).toBe('wal');
  });

  // Node's multi-threaded zstd stream cut frames of this size short (nodejs/node#59899); a backup is
  // now several independent frames, and none may be lost.
  it('round-trips a database of tens of MiB whole (Node\'s multi-threaded zstd cut such frames short)', async () => {
    const { config } = setUp({}, 400_000);
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    expect(made.databaseSize).toBeGreaterThan(20 * 1024 * 1024);
    // About as the zstd CLI compresses it (another zstd version and parameters), not a fraction of it (a cut frame is small too).
    const cli = execFileSync('zstd', ['-3', '-c', ws!.dbPath], { maxBuffer: 256 * 1024 * 1024 }).length;
    expect(made.size).toBeGreaterThan(cli * 0.7);
    const restored = await restore({ backupId: made.backupId }, jobContext(config, ws!.store));
    expect(readNotes(restored.path)).toHaveLength(400_000);
  });

  it('stores a database that does not compress (random blobs) uncompressed, as CRBU v1, and says so', async () => {
    const { config } = setUp({}, 0);
    const db = new Database(ws!.dbPath);
    db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO blobs (data) VALUES (?)');
    db.transaction(() => { for (let i = 0; i < 1500; i++) insert.run(randomBytes(4000)); })();
    db.close();
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    expect(made.compression).toBe('none');
    const bytes = await objectBytes(`${made.backupId}.crbu`);
    expect(bytes.subarray(0, 5)).toEqual(Buffer.from([0x43, 0x52, 0x42, 0x55, 1]));
    const restored = await restore({ backupId: made.backupId }, jobContext(config, ws!.store));
    const count = new Database(restored.path, { readonly: true });
    expect(count.prepare('SELECT count(*) AS n FROM blobs').get()).toEqual({ n: 1500 });
    count.close();
  });

  it('round-trips a database with no tables', async () => {
    const { config } = setUp({}, 0);
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    const restored = await restore({ backupId: made.backupId }, jobContext(config, ws!.store));
    expect(readFileSync(restored.path).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
  });

  it('stores an archive as CRBU version 4 and restores every file', async () => {
    const { config } = setUp({ BACKUP_INCLUDE_PATHS: '' });
    const include = join(ws!.root, 'etc-app');
    mkdirSync(include);
    writeFileSync(join(include, 'app.ini'), 'mode = production\n'.repeat(1000));
    const withInclude = loadConfig({ ...ws!.storeEnv, DB_PATH: ws!.dbPath, STATE_DIR: ws!.stateDir, MASTER_KEY: config.masterKey!.toString('hex'), BACKUP_COMPRESSION: 'zstd', BACKUP_INCLUDE_PATHS: include });
    const made = await backup({ trigger: 'cli' }, jobContext(withInclude, ws!.store));
    expect((await objectBytes(`${made.backupId}.tar.crbu`))[4]).toBe(4);
    const restored = await restore({ backupId: made.backupId }, jobContext(withInclude, ws!.store));
    expect(readFileSync(join(restored.path, 'files', ...include.split('/').filter(Boolean), 'app.ini'), 'utf8')).toBe('mode = production\n'.repeat(1000));
    expect(restored.origin).toBe('verified');
  });

  it.each([['a database', ''], ['an archive', 'include']])('stores %s for age recipients as .zst.age and restores it with the identity', async (_what, include) => {
    const { config } = setUp();
    const keyFile = join(ws!.root, 'key.txt');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();
    const includeDir = join(ws!.root, 'conf');
    mkdirSync(includeDir);
    writeFileSync(join(includeDir, 'a.conf'), 'x = 1\n');
    const ageConfig = loadConfig({
      ...ws!.storeEnv, DB_PATH: ws!.dbPath, STATE_DIR: ws!.stateDir, MASTER_KEY: config.masterKey!.toString('hex'),
      BACKUP_COMPRESSION: 'zstd', BACKUP_AGE_RECIPIENTS: recipient, ...(include ? { BACKUP_INCLUDE_PATHS: includeDir } : {}),
    });
    const made = await backup({ trigger: 'cli' }, jobContext(ageConfig, ws!.store));
    const suffix = include ? '.tar.zst.age' : '.zst.age';
    expect((await ws!.store.list()).map((o) => o.name)).toContain(`${made.backupId}${suffix}`);
    // age -d then zstd -d gives the plaintext back with nothing but the two tools.
    const plain = execFileSync('sh', ['-c', `age -d -i ${keyFile} | zstd -d`], { input: await objectBytes(`${made.backupId}${suffix}`), maxBuffer: 64 * 1024 * 1024 });
    expect(plain.length).toBeGreaterThan(1000);
    const identities = readFileSync(keyFile, 'utf8').split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-'));
    const restored = await restore({ backupId: made.backupId }, { ...jobContext(ageConfig, ws!.store), ageIdentities: identities });
    const dbFile = include ? join(restored.path, 'database', 'app.sqlite') : restored.path;
    expect(readNotes(dbFile)).toEqual(readNotes(ws!.dbPath));
  });

  it('refuses a damaged zstd frame inside a valid envelope with a clear error, leaving nothing', async () => {
    const { config } = setUp();
    const frame = zstdCompressSync(readFileSync(ws!.dbPath));
    frame.fill(0x5a, Math.floor(frame.length / 2), Math.floor(frame.length / 2) + 32);
    const id = newBackupIdLike();
    const bytes = await encryptBuffer(config.masterKey!, frame, 3);
    await ws!.store.put(`${id}.crbu`, Readable.from([bytes]), { metadata: { 'snapkeep-key': keyFingerprint(config.masterKey!) } });
    const error = await restore({ backupId: id }, jobContext(config, ws!.store)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(SnapkeepError);
    expect((error as SnapkeepError).message).toMatch(/zstd frame does not decode/);
    expect(leftBesideDb()).toEqual([]);
  });

  it('refuses a truncated version-3 object, leaving nothing', async () => {
    const { config } = setUp();
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    const bytes = await objectBytes(`${made.backupId}.crbu`);
    await ws!.store.put(`${made.backupId}.crbu`, Readable.from([bytes.subarray(0, bytes.length - 500)]), { metadata: {} });
    const error = await restore({ backupId: made.backupId, force: true }, jobContext(config, ws!.store)).then(() => null, (e: unknown) => e);
    expect((error as SnapkeepError).code).toMatch(/^(truncated|decrypt_failed|integrity_failed)$/);
    expect(leftBesideDb()).toEqual([]);
  });

  it('tries the next master key when the first turns a version-3 frame into noise', async () => {
    const { config, masterKey } = setUp();
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    // No fingerprint recorded (as another CRBU writer's object): the new key is tried first.
    const bytes = await objectBytes(`${made.backupId}.crbu`);
    await ws!.store.put(`${made.backupId}.crbu`, Readable.from([bytes]), { metadata: {} });
    const rotated = loadConfig({ ...ws!.storeEnv, DB_PATH: ws!.dbPath, STATE_DIR: ws!.stateDir, MASTER_KEY: randomBytes(32).toString('hex'), MASTER_KEY_PREVIOUS: masterKey });
    const restored = await restore({ backupId: made.backupId }, jobContext(rotated, ws!.store));
    expect(restored.keyIndex).toBe(1);
    expect(readNotes(restored.path)).toEqual(readNotes(ws!.dbPath));
  });

  it('restores a version-3 object written by an independent writer (the zstd CLI and Python cryptography)', async () => {
    const { config } = setUp();
    const id = newBackupIdLike();
    const out = join(ws!.root, `${id}.crbu`);
    const frame = join(ws!.root, 'frame.zst');
    execFileSync('zstd', ['-q', '-3', ws!.dbPath, '-o', frame]);
    // Debian's python3 with python3-cryptography (scripts/test.sh installs it).
    execFileSync('/usr/bin/python3', ['-c', [
      'import os, sys',
      'from cryptography.hazmat.primitives import hashes',
      'from cryptography.hazmat.primitives.ciphers.aead import AESGCM',
      'from cryptography.hazmat.primitives.kdf.hkdf import HKDF',
      'key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"coldrune-backup-key").derive(bytes.fromhex(sys.argv[1]))',
      'nonce = os.urandom(12)',
      'open(sys.argv[3], "wb").write(b"CRBU" + bytes([3]) + nonce + AESGCM(key).encrypt(nonce, open(sys.argv[2], "rb").read(), None))',
    ].join('\n'), config.masterKey!.toString('hex'), frame, out]);
    await ws!.store.put(`${id}.crbu`, Readable.from([readFileSync(out)]), { metadata: {} });
    const restored = await restore({ backupId: id }, jobContext(config, ws!.store));
    expect(readNotes(restored.path)).toEqual(readNotes(ws!.dbPath));
  });

  it('decrypts a version-3 object with the by-hand scripts, then zstd -d gives the database', async () => {
    // Large enough for several zstd frames (a backup compresses blocks as independent frames).
    const { config } = setUp({}, 200_000);
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    expect(made.databaseSize).toBeGreaterThan(2 * BLOCK_BYTES);
    const object = join(ws!.root, 'object.crbu');
    writeFileSync(object, await objectBytes(`${made.backupId}.crbu`));
    const scripts = new URL('../../docs/restore-by-hand/', import.meta.url).pathname;
    const key = config.masterKey!.toString('hex');
    execFileSync(process.execPath, [join(scripts, 'decrypt-crbu.mjs'), key, object, join(ws!.root, 'node.zst')], { stdio: 'pipe' });
    execFileSync('/usr/bin/python3', [join(scripts, 'decrypt_crbu.py'), key, object, join(ws!.root, 'py.zst')], { stdio: 'pipe' });
    for (const name of ['node', 'py']) {
      execFileSync('zstd', ['-q', '-d', join(ws!.root, `${name}.zst`), '-o', join(ws!.root, `${name}.db`)]);
      expect(readNotes(join(ws!.root, `${name}.db`))).toEqual(readNotes(ws!.dbPath));
    }
  });
});
