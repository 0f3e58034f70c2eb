import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream } from '../../src/crypto/crbu-encrypt-stream.js';
import type { CrbuVersion } from '../../src/crypto/crbu-format.js';
import { keyFingerprint } from '../../src/crypto/derive-backup-key.js';
import type { ErrorCode } from '../../src/errors.js';
import { createSampleDatabase } from './sample-database.js';

/** StoredBytes is an object as a test puts it into a store: its bytes and its metadata. */
export interface StoredBytes {
  bytes: Buffer;
  metadata: Record<string, string>;
}

/**
 * BrokenBackupCase is one way a stored `.crbu` object can be unusable, with the error a restore
 * must give: the code, and the message as DESIGN words it (matched whole, start to end).
 */
export interface BrokenBackupCase {
  name: string;
  code: ErrorCode;
  reason: RegExp;
  /** build makes the object from a good database image and the master key the restore is given. */
  build(database: Buffer, key: Buffer): Promise<StoredBytes>;
}

/** encryptBuffer is a whole CRBU envelope of plaintext, made by snapkeep's own encrypt stream. */
export async function encryptBuffer(key: Buffer, plaintext: Buffer, version: CrbuVersion = 1): Promise<Buffer> {
  const parts: Buffer[] = [];
  const collect = new Writable({ write(chunk: Buffer, _enc, done) { parts.push(chunk); done(); } });
  await pipeline(Readable.from([plaintext]), createEncryptStream(key, version), collect);
  return Buffer.concat(parts);
}

/** snapkeepMetadata is what a snapkeep backup records beside its object. */
export const snapkeepMetadata = (key: Buffer): Record<string, string> => ({ 'snapkeep-key': keyFingerprint(key), 'snapkeep-format': 'crbu1' });

const sealed = async (key: Buffer, plaintext: Buffer, version: CrbuVersion = 1): Promise<StoredBytes> =>
  ({ bytes: await encryptBuffer(key, plaintext, version), metadata: snapkeepMetadata(key) });

function changed(object: StoredBytes, edit: (bytes: Buffer) => Buffer): StoredBytes {
  return { bytes: edit(Buffer.from(object.bytes)), metadata: object.metadata };
}

/** damagedDatabase is a database image whose header is intact but one of its middle pages is not. */
export function damagedDatabase(image: Buffer): Buffer {
  const copy = Buffer.from(image);
  const pageSize = copy.readUInt16BE(16);
  const page = Math.floor(copy.length / pageSize / 2);
  copy.fill(0xa5, page * pageSize, page * pageSize + 64);
  return copy;
}

const WRONG = /^wrong master key or corrupted backup$/;

/** BROKEN_BACKUPS are the failure cases of issue 3, each with DESIGN's reason. */
export const BROKEN_BACKUPS: BrokenBackupCase[] = [
  {
    name: 'a flipped ciphertext byte',
    code: 'decrypt_failed',
    reason: WRONG,
    build: async (db, key) => changed(await sealed(key, db), (b) => { b[Math.floor(b.length / 2)]! ^= 0x01; return b; }),
  },
  {
    name: 'a truncated object',
    code: 'truncated',
    reason: /^backup is truncated$/,
    build: async (db, key) => changed(await sealed(key, db), (b) => b.subarray(0, Math.floor(b.length * 0.6))),
  },
  {
    name: 'an object cut inside its header',
    code: 'truncated',
    reason: /^backup is truncated$/,
    build: async (db, key) => changed(await sealed(key, db), (b) => b.subarray(0, 10)),
  },
  {
    name: 'a backup made with another master key',
    code: 'decrypt_failed',
    reason: WRONG,
    build: async (db) => sealed(randomBytes(32), db),
  },
  {
    name: 'a bad magic',
    code: 'not_crbu',
    reason: /^not a CRBU file$/,
    build: async (db, key) => changed(await sealed(key, db), (b) => { b.write('CRBX', 0, 'latin1'); return b; }),
  },
  {
    name: 'an unknown version 5',
    code: 'unsupported_version',
    reason: /^unsupported CRBU version 5$/,
    build: async (db, key) => changed(await sealed(key, db), (b) => { b[4] = 5; return b; }),
  },
  {
    name: 'an archive envelope (version 2) under a database name',
    code: 'unsupported_version',
    reason: /^unsupported CRBU version 2: .*archive.*database/,
    build: async (db, key) => sealed(key, db, 2),
  },
  {
    name: 'a valid CRBU of random bytes',
    code: 'not_sqlite',
    reason: /^not a SQLite database$/,
    build: async (_db, key) => sealed(key, randomBytes(64 * 1024)),
  },
  {
    name: 'a valid CRBU of a damaged SQLite database',
    code: 'integrity_failed',
    reason: /^integrity check failed: ./,
    build: async (db, key) => sealed(key, damagedDatabase(db)),
  },
];

/** makeDatabaseImage builds a sample database at path (big enough to damage a middle page) and returns its bytes. */
export function makeDatabaseImage(path: string, rows = 3000): Buffer {
  createSampleDatabase(path, rows);
  return readFileSync(path);
}

/** sha256File is the hex SHA-256 of a file's bytes. */
export const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** LiveDbState is what must not change about the live database across a restore. */
export interface LiveDbState {
  sha256: string;
  mtimeMs: number;
  size: number;
}

/** liveDbState reads the live database's hash, mtime and size. */
export function liveDbState(path: string): LiveDbState {
  const info = lstatSync(path);
  return { sha256: sha256File(path), mtimeMs: info.mtimeMs, size: info.size };
}

/** strayFiles lists what sits beside the database other than itself, its -wal/-shm and the names allowed. */
export function strayFiles(dbPath: string, allowed: string[] = []): string[] {
  const own = basename(dbPath);
  const expected = new Set([own, `${own}-wal`, `${own}-shm`, ...allowed]);
  return readdirSync(dirname(dbPath)).filter((name) => !expected.has(name)).sort();
}

/** takeStrayFiles is strayFiles, removing what it found so that a later check starts clean. */
export function takeStrayFiles(dbPath: string, allowed: string[] = []): string[] {
  const found = strayFiles(dbPath, allowed);
  for (const name of found) rmSync(join(dirname(dbPath), name), { recursive: true, force: true });
  return found;
}

/** writeBytes writes a file in one go (a stand-in for what an operator left at a path). */
export const writeBytes = (path: string, bytes: Buffer | string): void => writeFileSync(path, bytes);
