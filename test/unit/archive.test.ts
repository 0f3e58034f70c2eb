import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseArchivePath, isSafeArchivePath } from '../../src/archive/archive-paths.js';
import { buildManifest, hashDatabaseSnapshot } from '../../src/archive/build-manifest.js';
import { collectSources } from '../../src/archive/collect-sources.js';
import { createExcludeMatcher } from '../../src/archive/exclude-matcher.js';
import { extractArchive } from '../../src/archive/extract-archive.js';
import { serializeManifest, type ArchiveManifest } from '../../src/archive/manifest.js';
import { planMoves } from '../../src/archive/plan-moves.js';
import { looksSecret, restoredMode } from '../../src/archive/secret-paths.js';
import { stageSources } from '../../src/archive/stage-sources.js';
import { writeArchive } from '../../src/archive/write-archive.js';
import { SnapkeepError } from '../../src/errors.js';
import { describeTree, makeSampleTree, withoutLogs } from '../helpers/file-tree.js';
import { removeDir } from '../helpers/redis-server.js';

const BACKUP_ID = '20261122T010203Z-0123abcd';

async function failure(promise: Promise<unknown>): Promise<SnapkeepError> {
  const error = await promise.then(() => { throw new Error('it succeeded'); }, (e: unknown) => e);
  expect(error).toBeInstanceOf(SnapkeepError);
  return error as SnapkeepError;
}

describe('BACKUP_EXCLUDE globs', () => {
  const excluded = createExcludeMatcher(['*.log', 'cache/**', '/srv/app/tmp/**']);
  it.each([
    ['/srv/app/a.log', 'a.log', true],
    ['/srv/app/deep/er/b.log', 'deep/er/b.log', true],
    ['/srv/app/cache', 'cache', true],
    ['/srv/app/cache/x/y', 'cache/x/y', true],
    ['/srv/app/tmp/z', 'tmp/z', true],
    ['/srv/app/logbook.txt', 'logbook.txt', false],
    ['/srv/app/data/cache', 'data/cache', false],
    ['/srv/other/tmp/z', 'tmp/z', false],
  ])('%s (%s) excluded: %s', (absolute, relative, want) => {
    expect(excluded(absolute, relative)).toBe(want);
  });
});

describe('secrets-looking paths', () => {
  it.each([
    ['files/etc/app/keys/signing.pem', true],
    ['files/etc/app/master_key', true],
    ['files/etc/app/apiKey.json', true],
    ['files/srv/vault-data/x', true],
    ['files/etc/app/.env', true],
    ['files/home/u/.ssh/id_ed25519', true],
    ['files/etc/app/credentials.json', true],
    ['files/etc/app/secrets.yaml', true],
    ['files/etc/app/tokens/x', true],
    ['files/home/monkey/keyboard.txt', false],
    ['files/etc/app/app.yml', false],
  ])('%s: %s', (path, want) => {
    expect(looksSecret(path)).toBe(want);
  });

  it('restores a secret file never looser than 0600 and a secret directory never looser than 0700', () => {
    const entry = (path: string, type: 'file' | 'directory', mode: string) => ({ path, type, mode, size: 0, mtime: new Date().toISOString() });
    expect(restoredMode(entry('files/a/keys/k.pem', 'file', '0644'), 'database/x.sqlite')).toBe(0o600);
    expect(restoredMode(entry('files/a/keys/k.pem', 'file', '0400'), 'database/x.sqlite')).toBe(0o400);
    expect(restoredMode(entry('files/a/keys', 'directory', '0755'), 'database/x.sqlite')).toBe(0o700);
    expect(restoredMode(entry('files/a/app.yml', 'file', '0644'), 'database/x.sqlite')).toBe(0o644);
    expect(restoredMode(entry('database/x.sqlite', 'file', '0644'), 'database/x.sqlite')).toBe(0o600);
  });

  it('rejects unsafe archive names', () => {
    for (const bad of ['', '/etc/passwd', 'files/../x', 'files/./x', 'files//x', 'other/x', 'files', 'files/a\\b']) expect(isSafeArchivePath(bad)).toBe(false);
    expect(isSafeArchivePath('files/etc/app/x')).toBe(true);
  });
});

describe('archive: collect, stage, write, extract', () => {
  let dir: string;
  let source: string;
  let dbPath: string;
  let socket: Server;
  let manifest: ArchiveManifest;
  let archiveFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-archive-'));
    source = join(dir, 'app');
    makeSampleTree(source, 3 * 1024 * 1024 + 123);
    // A secret made too open at the source: the restore tightens it.
    writeFileSync(join(source, 'keys', 'loose.key'), 'k');
    chmodSync(join(source, 'keys', 'loose.key'), 0o644);
    socket = createServer();
    await new Promise<void>((resolve) => socket.listen(join(source, 'data', 'app.sock'), resolve));
    dbPath = join(source, 'data', 'app.db');
    const db = new Database(dbPath);
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (42)');
    db.close();
    archiveFile = join(dir, 'archive.tar');
    manifest = await makeArchive(archiveFile, join(dir, 'staging'));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => socket?.close(() => resolve()));
    if (dir) removeDir(dir);
  });

  async function makeArchive(out: string, stagingPath: string): Promise<ArchiveManifest> {
    const collected = await collectSources([source], {
      exclude: ['*.log'],
      protect: [{ path: dbPath, reason: 'the live database', scope: 'path' }],
    });
    const staged = await stageSources(collected.entries, stagingPath);
    const database = await hashDatabaseSnapshot(dbPath, databaseArchivePath(dbPath), dbPath);
    const built = buildManifest({
      backupId: BACKUP_ID, createdAt: new Date(), database, sources: collected.sources, exclude: ['*.log'],
      entries: staged.entries, skipped: [...collected.skipped, ...staged.skipped],
    });
    await pipeline(writeArchive({ manifest: built, database, stagingPath, entries: staged.entries }), createWriteStream(out));
    return built;
  }

  it('puts manifest.json first, then the database, and lists skipped special files and protected paths', () => {
    const names = execFileSync('tar', ['-tf', archiveFile], { encoding: 'utf8' }).trim().split('\n');
    expect(names[0]).toBe('manifest.json');
    expect(names[1]).toBe('database/app.sqlite');
    expect(names.some((n) => n.endsWith('.log'))).toBe(false);
    expect(manifest.skipped).toEqual(expect.arrayContaining([
      { path: join(source, 'data', 'app.sock'), reason: 'socket' },
      { path: dbPath, reason: 'the live database' },
    ]));
    const big = manifest.entries.find((e) => e.path.endsWith('big.bin'))!;
    expect(big).toMatchObject({ type: 'file', size: 3 * 1024 * 1024 + 123, mode: '0644' });
    expect(big.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.entries.find((e) => e.path.endsWith('current-config'))).toMatchObject({ type: 'symlink', linkTarget: '../config/app.yml' });
  });

  it('extracts every file, link and directory as it was, secrets tightened', async () => {
    const out = join(dir, 'restored');
    mkdirSync(out, { mode: 0o700 });
    const result = await extractArchive(createReadStream(archiveFile), out, BACKUP_ID);
    expect(result.files).toBe(manifest.entries.filter((e) => e.type === 'file').length);
    const restoredRoot = join(out, 'files', ...source.split('/').filter(Boolean));
    const want = withoutLogs(describeTree(source));
    delete want['data/app.sock'];
    delete want['data/app.db'];
    want['keys/loose.key'] = { ...want['keys/loose.key']!, mode: 0o600 };
    expect(describeTree(restoredRoot)).toEqual(want);
    expect(statSync(join(out, 'database', 'app.sqlite')).mode & 0o777).toBe(0o600);
    const moves = planMoves(result.manifest, out);
    expect(moves.at(-1)).toMatchObject({ to: dbPath, from: join(out, 'database', 'app.sqlite') });
  });

  it('fails on a file whose bytes do not match the manifest', async () => {
    const tampered = readFileSync(archiveFile);
    const at = tampered.indexOf(Buffer.from('listen: 8080'));
    tampered[at] ^= 1;
    const out = join(dir, 'tampered');
    mkdirSync(out);
    const error = await failure(extractArchive(Readable.from([tampered]), out, BACKUP_ID));
    expect(error.code).toBe('archive_invalid');
    expect(error.message).toMatch(/app\.yml does not match its SHA-256/);
  });

  it('refuses an entry the manifest does not list, and an archive of another backup', async () => {
    const extra = await craft(manifest, [{ name: 'files/evil', body: 'x' }]);
    mkdirSync(join(dir, 'extra'));
    expect((await failure(extractArchive(extra, join(dir, 'extra'), BACKUP_ID))).message).toMatch(/"files\/evil" is not listed/);
    mkdirSync(join(dir, 'other'));
    const other = Readable.from([readFileSync(archiveFile)]);
    expect((await failure(extractArchive(other, join(dir, 'other'), '20261122T010203Z-ffffffff'))).message).toMatch(/belongs to backup/);
  });

  it('never writes through a symlink the archive itself made', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    const evil: ArchiveManifest = {
      ...manifest,
      entries: [
        manifest.entries[0]!,
        { path: 'files/a', type: 'symlink', size: 0, mode: '0777', mtime: new Date().toISOString(), linkTarget: outside },
        { path: 'files/a/owned', type: 'file', size: 1, mode: '0644', mtime: new Date().toISOString(), sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881' },
      ],
    };
    const stream = await craft(evil, [
      { name: 'files/a', type: 'symlink', linkname: outside },
      { name: 'files/a/owned', body: 'x' },
    ], { database: readFileSync(dbPath) });
    mkdirSync(join(dir, 'evil'));
    expect((await failure(extractArchive(stream, join(dir, 'evil'), BACKUP_ID))).code).toBe('archive_invalid');
    expect(readdirSync(outside)).toEqual([]);
  });

  it('fails a backup when a staged file changes before it is archived', async () => {
    const collected = await collectSources([join(source, 'config')], { exclude: [], protect: [] });
    const stagingPath = join(dir, 'staging-changed');
    const staged = await stageSources(collected.entries, stagingPath);
    writeFileSync(stagingPath, Buffer.alloc(statSync(stagingPath).size, 7));
    const database = await hashDatabaseSnapshot(dbPath, 'database/app.sqlite', dbPath);
    const built = buildManifest({ backupId: BACKUP_ID, createdAt: new Date(), database, sources: collected.sources, exclude: [], entries: staged.entries, skipped: [] });
    const written = pipeline(writeArchive({ manifest: built, database, stagingPath, entries: staged.entries }), createWriteStream(join(dir, 'changed.tar')));
    expect((await failure(written)).message).toMatch(/changed in staging/);
  });

  it('fails when an include path does not exist', async () => {
    const error = await failure(collectSources([join(dir, 'missing')], { exclude: [], protect: [] }));
    expect(error.message).toBe(`BACKUP_INCLUDE_PATHS: ${join(dir, 'missing')} does not exist`);
  });

  // Root reads a 0000 file anyway (CAP_DAC_OVERRIDE), and CI runs as root: there the check runs in a
  // child process that has dropped to nobody, so it is never skipped.
  it('fails naming an unreadable file', async () => {
    const base = mkdtempSync(join(tmpdir(), 'snapkeep-unreadable-'));
    try {
      chmodSync(base, 0o755);
      const locked = join(base, 'locked');
      mkdirSync(locked, { mode: 0o755 });
      writeFileSync(join(locked, 'secret.txt'), 'x');
      chmodSync(join(locked, 'secret.txt'), 0o000);
      const staging = join(base, 'staging');
      let outcome: { message: string; retryable: boolean };
      if (process.getuid?.() !== 0) {
        const collected = await collectSources([locked], { exclude: [], protect: [] });
        const error = await failure(stageSources(collected.entries, staging));
        outcome = { message: error.message, retryable: error.retryable };
      } else {
        chmodSync(base, 0o777);
        const script = `
          const { collectSources } = await import(${JSON.stringify(new URL('../../src/archive/collect-sources.ts', import.meta.url).href)});
          const { stageSources } = await import(${JSON.stringify(new URL('../../src/archive/stage-sources.ts', import.meta.url).href)});
          const collected = await collectSources([${JSON.stringify(locked)}], { exclude: [], protect: [] });
          try { await stageSources(collected.entries, ${JSON.stringify(staging)}); console.log(JSON.stringify({ message: 'no error', retryable: true })); }
          catch (e) { console.log(JSON.stringify({ message: e.message, retryable: e.retryable })); }`;
        const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script],
          { uid: 65534, gid: 65534, cwd: new URL('../..', import.meta.url).pathname, env: { PATH: process.env.PATH ?? '', HOME: base, TSX_TSCONFIG_PATH: new URL('../../tsconfig.json', import.meta.url).pathname } });
        outcome = JSON.parse(out.toString().trim().split('\n').pop()!) as { message: string; retryable: boolean };
      }
      expect(outcome.message).toBe(`cannot read ${join(locked, 'secret.txt')}: permission denied`);
      expect(outcome.retryable).toBe(false);
    } finally {
      removeDir(base);
    }
  });
});

/** craft writes a tar by hand: a manifest, the database, then the given entries, for hostile-archive tests. */
async function craft(
  manifest: ArchiveManifest,
  entries: Array<{ name: string; body?: string; type?: 'symlink'; linkname?: string }>,
  options: { database?: Buffer } = {},
): Promise<Readable> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const chunk of pack) chunks.push(chunk as Buffer); })();
  const add = (header: Parameters<typeof pack.entry>[0], body?: string | Buffer): Promise<void> =>
    new Promise((resolve, reject) => { pack.entry(header, body ?? '', (e) => (e ? reject(e) : resolve())); });
  await add({ name: 'manifest.json' }, serializeManifest(manifest));
  if (options.database) await add({ name: manifest.database.path }, options.database);
  for (const e of entries) {
    if (e.type === 'symlink') await add({ name: e.name, type: 'symlink', linkname: e.linkname! });
    else await add({ name: e.name }, e.body ?? '');
  }
  pack.finalize();
  await done;
  return Readable.from([Buffer.concat(chunks)]);
}
