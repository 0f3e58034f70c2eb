import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/create-logger.js';
import { LocalBackupStore } from '../../src/storage/local-store.js';
import { localTemporaryPath } from '../../src/storage/local-store-temporaries.js';
import { partialRestorePath, removeStalePartialRestores } from '../../workers/restore/partial-restores.js';
import { removeDir } from '../helpers/redis-server.js';
import { FOREIGN_HOST_RUN, OTHER_RUN } from '../helpers/stale-owners.js';

// Above any Linux pid_max (at most 2^22), so never a live process.
const DEAD_PID = 2 ** 30;
const TWO_DAYS_AGO = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);

/** A live process of another run on this host, as a second snapkeep mid-upload would be. */
let sleeper: ChildProcess;
let livePid: number;
beforeAll(() => {
  sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  livePid = sleeper.pid!;
});
afterAll(async () => {
  if (sleeper.exitCode === null && sleeper.signalCode === null) {
    sleeper.kill('SIGKILL');
    await once(sleeper, 'exit');
  }
});

let work: string;
beforeEach(() => { work = mkdtempSync(join(tmpdir(), 'snapkeep-stale-')); });
afterEach(() => removeDir(work));

/** A logger whose info lines the test reads back. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const logger = createLogger({ level: 'info', format: 'json', stream });
  const lines = (): Array<Record<string, unknown>> => Buffer.concat(chunks).toString('utf8').trim().split('\n')
    .filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines };
}

function file(dir: string, name: string, old = false): string {
  const path = join(dir, name);
  writeFileSync(path, 'half-written');
  if (old) utimesSync(path, TWO_DAYS_AGO, TWO_DAYS_AGO);
  return path;
}

describe('directory store: temporary files of writers that died', () => {
  const id = '20261122T040506Z-0123abcd';
  const objectTemp = (pid: number, run = OTHER_RUN, random = randomBytes(6).toString('hex')): string =>
    `.${id}.crbu.${pid}-${run}-${random}.partial`;
  const sidecarTemp = (pid: number): string => `.${id}.crbu.meta.json.${pid}-${OTHER_RUN}-${randomBytes(6).toString('hex')}.partial`;

  it('the first put removes those of dead runs, logging each path, and keeps live, own and foreign files', async () => {
    const dir = join(work, 'backups');
    mkdirSync(dir);
    const stale = [
      file(dir, objectTemp(DEAD_PID)),
      file(dir, sidecarTemp(DEAD_PID)),
      // Our pid under another run token: an earlier incarnation of this container (pid 1 again).
      file(dir, objectTemp(process.pid)),
      // A live process's, but older than a day: another container's pid that only looks alive here.
      file(dir, objectTemp(livePid), true),
      // Another host's (a directory shared over NFS), older than a day.
      file(dir, objectTemp(DEAD_PID, FOREIGN_HOST_RUN), true),
    ];
    const kept = [
      file(dir, objectTemp(livePid)),
      // Another host's: its pid is not running here, but it may be mid-write there.
      file(dir, objectTemp(DEAD_PID, FOREIGN_HOST_RUN)),
      file(dir, localTemporaryPath(`.${id}.crbu`)), // this run's own: it may be mid-write
      file(dir, '.notes.partial', true),
      file(dir, `.${id}.crbu.123.partial`, true), // an older snapkeep's name, no owner in it
      file(dir, `.${id}.crbu.${DEAD_PID}-${OTHER_RUN}.partial`, true), // no random part: not our shape
      file(dir, `${id}.crbu.${DEAD_PID}-${OTHER_RUN}-000000000000.partial`, true), // not hidden
      file(dir, 'notes.txt', true),
    ];
    // A directory of our shape is not a temporary file either.
    const shapedDir = join(dir, objectTemp(DEAD_PID));
    mkdirSync(shapedDir);
    kept.push(shapedDir);

    const { logger, lines } = capturingLogger();
    const store = new LocalBackupStore({ type: 'local', dir }, { logger });
    await store.put('a.crbu', Readable.from([Buffer.from('backup')]), { metadata: { k: 'v' } });

    for (const path of stale) expect(existsSync(path), path).toBe(false);
    for (const path of kept) expect(existsSync(path), path).toBe(true);
    const removed = lines().filter((line) => line.message === 'removed a stale temporary');
    expect(removed.map((line) => line.path).sort()).toEqual([...stale].sort());
    expect(removed.every((line) => line.level === 'info' && Object.keys(line).sort().join() === 'level,message,path,timestamp')).toBe(true);
    // Nothing else is gone, and the put left no temporary of its own.
    expect(readdirSync(dir).sort()).toEqual([...kept.map((path) => basename(path)), 'a.crbu', '.a.crbu.meta.json'].sort());
  });

  it('looks once per store: a later put leaves what appeared since', async () => {
    const dir = join(work, 'backups');
    const store = new LocalBackupStore({ type: 'local', dir });
    await store.put('a.crbu', Readable.from([Buffer.from('one')]));
    const later = file(dir, objectTemp(DEAD_PID));
    await store.put('b.crbu', Readable.from([Buffer.from('two')]));
    expect(existsSync(later)).toBe(true);
    // The next process's store (a restarted worker) removes it.
    await new LocalBackupStore({ type: 'local', dir }).put('c.crbu', Readable.from([Buffer.from('three')]));
    expect(existsSync(later)).toBe(false);
  });

  it('names its temporaries with this run as owner', async () => {
    const dir = join(work, 'backups');
    const store = new LocalBackupStore({ type: 'local', dir });
    const body = new PassThrough();
    const put = store.put('a.crbu', body, { metadata: { k: 'v' } });
    body.write(Buffer.from('first part'));
    // The temporary appears once the put has opened it.
    let names: string[] = [];
    for (let i = 0; i < 100 && names.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      names = existsSync(dir) ? readdirSync(dir) : [];
    }
    body.end();
    await put;
    expect(names).toHaveLength(1);
    const ours = localTemporaryPath('.a.crbu').replace(/[0-9a-f]{12}\.partial$/, ''); // `.a.crbu.{pid}-{run}-`
    expect(ours).toBe(`.a.crbu.${process.pid}-${ours.split('-').at(-2)}-`);
    expect(names[0]).toMatch(/^[^/]+-[0-9a-f]{12}\.partial$/);
    expect(names[0]!.startsWith(ours)).toBe(true);
  });
});

describe('archive restores: partial directories of restores that died', () => {
  const partial = (pid: number, target = '20261122T040506Z-0123abcd'): string =>
    `.${target}.partial-${pid}-${OTHER_RUN}-${randomBytes(4).toString('hex')}`;
  function directory(parent: string, name: string, old = false): string {
    const path = join(parent, name);
    mkdirSync(join(path, 'files', 'etc'), { recursive: true });
    writeFileSync(join(path, 'files', 'etc', 'app.toml'), 'answer = 42\n');
    if (old) utimesSync(path, TWO_DAYS_AGO, TWO_DAYS_AGO);
    return path;
  }

  it('removes those of dead runs, even with read-only directories inside, and keeps live, own and foreign entries', async () => {
    const parent = join(work, 'restore');
    mkdirSync(parent);
    const readOnly = directory(parent, partial(DEAD_PID));
    // Restored modes can make a directory read-only: the removal must still get through.
    chmodSync(join(readOnly, 'files', 'etc'), 0o500);
    chmodSync(join(readOnly, 'files'), 0o500);
    const stale = [
      readOnly,
      directory(parent, partial(process.pid)),
      directory(parent, partial(livePid), true),
    ];
    const kept = [
      directory(parent, partial(livePid)),
      directory(parent, partialRestorePath(join(parent, 'x')).slice(parent.length + 1)),
      directory(parent, '.notes.partial', true),
      directory(parent, '.x.partial-1a2b3c4d', true), // an older snapkeep's name, no owner in it
      directory(parent, '20261122T040506Z-0123abcd', true), // a finished restore
      file(parent, partial(DEAD_PID)), // a file is not a partial restore
      file(parent, '.restore-notes.partial'),
    ];

    const { logger, lines } = capturingLogger();
    const removed = await removeStalePartialRestores(parent, logger);
    expect(removed.sort()).toEqual([...stale].sort());
    for (const path of stale) expect(existsSync(path), path).toBe(false);
    for (const path of kept) expect(existsSync(path), path).toBe(true);
    expect(lines().filter((line) => line.message === 'removed a stale temporary').map((line) => line.path).sort()).toEqual([...stale].sort());
  });

  it('does nothing when the directory does not exist', async () => {
    expect(await removeStalePartialRestores(join(work, 'nowhere'), capturingLogger().logger)).toEqual([]);
  });

  it('names a partial restore as a hidden sibling owned by this run', () => {
    const path = partialRestorePath(join(work, 'restore', 'abc'));
    expect(path.startsWith(join(work, 'restore', `.abc.partial-${process.pid}-`))).toBe(true);
    expect(path).toMatch(/\.partial-\d+-[0-9a-f]{8}-[0-9a-f]{8}$/);
  });
});
