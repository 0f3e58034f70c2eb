import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AnyArchiveManifest } from '../../src/archive/manifest.js';
import { STREAM_NOT_MOVED } from '../../src/archive/plan-moves.js';
import { findBackup } from '../../src/backups/find-backup.js';
import type { Config, StreamConfig } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { SnapkeepError } from '../../src/errors.js';
import type { BackupStore } from '../../src/storage/backup-store.js';
import { backup } from '../../workers/backup/backup.js';
import { openBackupPlaintext } from '../../workers/restore/open-backup-plaintext.js';
import { restore } from '../../workers/restore/restore.js';
import { verifyBackup } from '../../workers/verify/verify-backup.js';
import { describeTree, makeSampleTree } from '../helpers/file-tree.js';
import { jobContext, openWorkspace, temporaryLeftovers, type RestoreWorkspace } from '../helpers/restore-harness.js';

const sh = (script: string): string[] => ['sh', '-c', script];

describe('stream sources and archives without a database', () => {
  let ws: RestoreWorkspace | undefined;
  beforeEach(() => { ws = openWorkspace('local'); });
  afterEach(() => ws?.cleanup());

  /** sourceConfig is a source of only these streams and include paths: no DB_PATH. */
  const sourceConfig = (parts: { streams?: StreamConfig[]; includePaths?: string[] }): Config => {
    // As a real process's environment: the settings and secrets must not reach a stream.
    const base = loadConfig({ ...process.env, ...ws!.storeEnv, STATE_DIR: ws!.stateDir, MASTER_KEY: randomBytes(32).toString('hex') });
    return { ...base, dbPath: undefined, streams: parts.streams ?? [], includePaths: parts.includePaths ?? [] };
  };
  const run = async (config: Config) => {
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    const restored = await restore({ backupId: made.backupId }, jobContext(config, ws!.store));
    return { made, restored };
  };
  const failed = async (config: Config): Promise<SnapkeepError> => {
    const error = await backup({ trigger: 'cli' }, jobContext(config, ws!.store)).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SnapkeepError);
    // Nothing stored, nothing staged left behind.
    expect(await ws!.store.list()).toEqual([]);
    expect(temporaryLeftovers(ws!.stateDir)).toEqual([]);
    return error as SnapkeepError;
  };

  it('stores 50 MB of a stream\'s stdout and restores it byte for byte, as the manifest lists it', async () => {
    const expected = join(ws!.root, 'expected');
    const config = sourceConfig({ streams: [{ name: 'big', command: sh(`head -c 50000000 /dev/urandom | tee ${expected}`) }] });
    const made = await backup({ trigger: 'cli' }, jobContext(config, ws!.store));
    expect(made.kind).toBe('archive');
    expect(made.databaseSize).toBe(0);
    expect(temporaryLeftovers(ws!.stateDir)).toEqual([]);
    const manifest = await readManifest(config, ws!.store, made.backupId);
    const member = manifest.entries.find((e) => e.path === 'streams/big')!;
    expect(manifest.database).toBeUndefined();
    expect(member).toMatchObject({ type: 'file', size: 50_000_000, sha256: await sha256File(expected) });

    const restored = await restore({ backupId: made.backupId }, jobContext(config, ws!.store));
    const file = join(restored.path, 'streams', 'big');
    expect(statSync(file).size).toBe(50_000_000);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await sha256File(file)).toBe(member.sha256);
    expect(restored.archive!.moves).toEqual([]);
    expect(restored.archive!.skipped).toEqual([{ path: file, reason: STREAM_NOT_MOVED }]);
  });

  it('fails a backup whose command exits non-zero, naming the stream, and stores nothing', async () => {
    const config = sourceConfig({ streams: [{ name: 'ok', command: sh('echo fine') }, { name: 'mail', command: sh('echo boom >&2; exit 3') }] });
    const error = await failed(config);
    expect(error.message).toBe('stream "mail": command exited with status 3: boom');
    expect(error.code).toBe('command_failed');
  });

  it('fails a backup whose command floods stderr, or does not exist, naming the stream', async () => {
    const flood = await failed(sourceConfig({ streams: [{ name: 'noisy', command: sh('echo first >&2; head -c 70000 /dev/zero | tr "\\0" e >&2') }] }));
    expect(flood.message).toBe('stream "noisy": command wrote more than 64 KiB to stderr and was stopped: first');
    const missing = await failed(sourceConfig({ streams: [{ name: 'gone', command: ['/nonexistent/cmd'] }] }));
    expect(missing.message).toBe('stream "gone": command could not be started: /nonexistent/cmd not found');
  });

  it('stops a stream\'s command when the job is stopped, and leaves nothing behind', async () => {
    const started = join(ws!.root, 'started');
    const config = sourceConfig({ streams: [{ name: 'slow', command: sh(`touch ${started}; printf x; exec sleep 300`) }] });
    const controller = new AbortController();
    const running = backup({ trigger: 'cli' }, { ...jobContext(config, ws!.store), signal: controller.signal });
    while (!existsSync(started)) await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new Error('the job was stopped'));
    await expect(running).rejects.toThrow('the job was stopped');
    expect(await ws!.store.list()).toEqual([]);
    expect(temporaryLeftovers(ws!.stateDir)).toEqual([]);
  });

  it('round-trips an archive of only include paths, and drills it', async () => {
    const root = join(ws!.root, 'app');
    makeSampleTree(root, 200_000);
    const config = sourceConfig({ includePaths: [root] });
    const { made, restored } = await run(config);
    expect(made.kind).toBe('archive');
    expect(describeTree(join(restored.path, 'files', ...root.split('/').filter(Boolean)))).toEqual(describeTree(root));
    expect(readdirSync(restored.path)).toEqual(['files']);
    expect(restored.archive!.moves).toEqual([{ from: join(restored.path, 'files', ...root.split('/').filter(Boolean)), to: root, group: 'data' }]);
    const drill = await verifyBackup(made.backupId, {}, jobContext(config, ws!.store));
    expect(drill.verified).toBe(true);
    expect(drill.checks.map((c) => c.check)).toEqual(['download', 'decrypt', 'origin', 'archive-entries']);
  });

  it('round-trips an archive of only a stream, zstd-compressed, as format version 2', async () => {
    const config = { ...sourceConfig({ streams: [{ name: 'dump.sql', command: sh('printf "CREATE TABLE t (x);\\n"; printf ""') }, { name: 'empty', command: ['true'] }] }), compression: { type: 'zstd' as const, level: 3 } };
    const { made, restored } = await run(config);
    expect(readFileSync(join(restored.path, 'streams', 'dump.sql'), 'utf8')).toBe('CREATE TABLE t (x);\n');
    expect(statSync(join(restored.path, 'streams', 'empty')).size).toBe(0);
    expect((await readManifest(config, ws!.store, made.backupId)).formatVersion).toBe(2);
  });

  it('runs a stream without snapkeep\'s settings and secrets in its environment', async () => {
    const config = sourceConfig({ streams: [{ name: 'env', command: sh('env') }] });
    const { restored } = await run(config);
    const seen = readFileSync(join(restored.path, 'streams', 'env'), 'utf8');
    expect(seen).toMatch(/^PATH=/m);
    expect(seen).not.toMatch(/MASTER_KEY|BACKUP_|STATE_DIR/);
  });

  it('keeps a source\'s database in the archive beside its streams', async () => {
    const config = sourceConfig({ streams: [{ name: 'note', command: sh('echo hello') }] });
    const db = new Database(ws!.dbPath);
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    db.close();
    const { made, restored } = await run({ ...config, dbPath: ws!.dbPath });
    expect(made.databaseSize).toBeGreaterThan(0);
    expect(readFileSync(join(restored.path, 'streams', 'note'), 'utf8')).toBe('hello\n');
    expect(restored.archive!.moves.at(-1)).toMatchObject({ to: ws!.dbPath, from: join(restored.path, 'database', 'app.sqlite') });
    const drill = await verifyBackup(made.backupId, {}, jobContext({ ...config, dbPath: ws!.dbPath }, ws!.store));
    expect(drill.verified).toBe(true);
    expect(drill.checks.map((c) => c.check)).toContain('integrity_check');
  });
});

/** readManifest decrypts a stored archive and reads its first member, manifest.json. */
async function readManifest(config: Config, store: BackupStore, backupId: string): Promise<AnyArchiveManifest> {
  const found = await findBackup(store, backupId);
  const { stream } = await openBackupPlaintext(jobContext(config, store), found, {});
  const extract = tar.extract();
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
    stream.destroy();
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as AnyArchiveManifest;
  }
  throw new Error('empty archive');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
