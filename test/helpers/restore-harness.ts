import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logging/create-logger.js';
import type { JobProgress } from '../../src/queue/job-types.js';
import type { BackupStore } from '../../src/storage/backup-store.js';
import { createStore } from '../../src/storage/create-store.js';
import type { JobContext } from '../../workers/runtime/job-context.js';
import type { StoredBytes } from './broken-backups.js';
import { removeDir } from './redis-server.js';
import type { TestS3Server } from './s3-server.js';

/** VECTORS_DIR is the CRBU test vectors, copied into the repository (see its README). */
export const VECTORS_DIR = fileURLToPath(new URL('../fixtures/crbu-vectors/', import.meta.url));

/** SampleVector is the `files` entry of crbu-v1.json: a CRBU file and the SQLite database inside it. */
export interface SampleVector {
  crbu: Buffer;
  masterKey: Buffer;
  plaintextSha256: string;
}

/** readSampleVector loads sample.db.crbu and what crbu-v1.json says about it. */
export function readSampleVector(): SampleVector {
  const spec = JSON.parse(readFileSync(join(VECTORS_DIR, 'crbu-v1.json'), 'utf8')) as {
    files: Array<{ crbu: string; master_key_hex: string; plaintext_sha256: string }>;
  };
  const file = spec.files.find((f) => f.crbu === 'sample.db.crbu')!;
  return { crbu: readFileSync(join(VECTORS_DIR, file.crbu)), masterKey: Buffer.from(file.master_key_hex, 'hex'), plaintextSha256: file.plaintext_sha256 };
}

/** newBackupIdLike is a fresh id of the backup-id shape, for objects a test puts into a store itself. */
export const newBackupIdLike = (): string => `20260101T000000Z-${randomBytes(4).toString('hex')}`;

/** RestoreWorkspace is one test's directories: the live database's own directory, STATE_DIR and the store. */
export interface RestoreWorkspace {
  root: string;
  dbPath: string;
  stateDir: string;
  /** Settings naming the store; add MASTER_KEY / MASTER_KEY_PREVIOUS per test. */
  storeEnv: Record<string, string>;
  store: BackupStore;
  cleanup(): void;
}

/** openWorkspace makes a workspace on a local directory store, or on the S3 server under a fresh prefix. */
export function openWorkspace(kind: 'local' | 's3', s3?: TestS3Server): RestoreWorkspace {
  const root = mkdtempSync(join(tmpdir(), `snapkeep-restore-${kind}-`));
  // The database alone in its directory, so that anything a restore leaves beside it shows.
  mkdirSync(join(root, 'live'));
  const storeEnv: Record<string, string> = kind === 'local'
    ? { BACKUP_LOCAL_DIR: join(root, 'backups') }
    : {
        BACKUP_S3_ENDPOINT: s3!.endpoint, BACKUP_S3_BUCKET: s3!.bucket, BACKUP_S3_ACCESS_KEY: s3!.accessKeyId,
        BACKUP_S3_SECRET_KEY: s3!.secretAccessKey, BACKUP_S3_PREFIX: `t-${randomBytes(4).toString('hex')}/`,
      };
  const dbPath = join(root, 'live', 'app.db');
  const stateDir = join(root, 'state');
  const config = loadConfig({ ...storeEnv, DB_PATH: dbPath, STATE_DIR: stateDir, MASTER_KEY: '00'.repeat(32) });
  return { root, dbPath, stateDir, storeEnv, store: createStore(config.store!), cleanup: () => removeDir(root) };
}

/** workspaceConfig is the Config of a workspace with these master keys (hex). */
export function workspaceConfig(ws: RestoreWorkspace, keys: { master: string; previous?: string[] }): Config {
  return loadConfig({
    ...ws.storeEnv, DB_PATH: ws.dbPath, STATE_DIR: ws.stateDir, MASTER_KEY: keys.master,
    MASTER_KEY_PREVIOUS: (keys.previous ?? []).join(','),
  });
}

/** putObject stores bytes as the `.crbu` object of a backup id. */
export async function putObject(store: BackupStore, id: string, object: StoredBytes): Promise<void> {
  await store.put(`${id}.crbu`, Readable.from([object.bytes]), { metadata: object.metadata });
}

/** TestContext is a JobContext that remembers the progress phases it was told. */
export interface TestContext extends JobContext {
  phases: string[];
}

/** jobContext builds the context a job function gets, logging only errors. */
export function jobContext(config: Config, store: BackupStore): TestContext {
  const phases: string[] = [];
  return {
    config, store, phases,
    logger: createLogger({ level: 'error', format: 'json' }),
    reportProgress: (p: JobProgress) => { if (phases.at(-1) !== p.phase) phases.push(p.phase); },
  };
}

/** temporaryLeftovers lists the files under STATE_DIR/tmp (none must survive a job). */
export function temporaryLeftovers(stateDir: string): string[] {
  try {
    return readdirSync(join(stateDir, 'tmp'));
  } catch {
    return [];
  }
}

/** takeTemporaryLeftovers is temporaryLeftovers, removing what it found so that a later check starts clean. */
export function takeTemporaryLeftovers(stateDir: string): string[] {
  const found = temporaryLeftovers(stateDir);
  for (const name of found) rmSync(join(stateDir, 'tmp', name), { recursive: true, force: true });
  return found;
}

/** CountingStore is a store that records every GET it passes on. */
export interface CountingStore extends BackupStore {
  gets: string[];
}

/**
 * countingStore wraps a store, counting GETs, and lets a test change what a GET returns (a body
 * cut short, a side effect during the download).
 */
export function countingStore(inner: BackupStore, onGet?: (name: string, body: Awaited<ReturnType<BackupStore['get']>>) => Promise<Awaited<ReturnType<BackupStore['get']>>>): CountingStore {
  const gets: string[] = [];
  return {
    description: inner.description,
    gets,
    put: (name, body, options) => inner.put(name, body, options),
    async get(name, options) {
      gets.push(name);
      const object = await inner.get(name, options);
      return onGet ? onGet(name, object) : object;
    },
    head: (name) => inner.head(name),
    list: () => inner.list(),
    delete: (names) => inner.delete(names),
    check: () => inner.check(),
    keyOf: (name) => inner.keyOf(name),
  };
}
