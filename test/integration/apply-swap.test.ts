import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyArchive } from '../../src/apply/apply-archive.js';
import { applyDatabase } from '../../src/apply/apply-database.js';
import type { MoveOps } from '../../src/apply/move-log.js';
import { rollbackDatabase } from '../../src/apply/rollback-database.js';
import { createLogger } from '../../src/logging/create-logger.js';
import { startHolder, type DatabaseHolder } from '../helpers/database-holder.js';
import { createAppDatabase, filesBeside, NOBODY, ownedTree, withoutName } from '../helpers/live-files.js';
import { removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

const logger = createLogger({ level: 'error', format: 'json' });
const node = (script: string): string[] => [process.execPath, '-e', script];

/**
 * The swap itself (src/apply), on real files and processes, with failures injected where a real
 * one is hard to make as root: the filesystem call that moves live files is replaced by one that
 * fails at a chosen move.
 */
describe('apply and rollback: failures put everything back', () => {
  let dir: string;
  let live: string;
  let dbPath: string;
  let restored: string;
  let holder: DatabaseHolder | undefined;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const withoutRestore = (files: Record<string, unknown>): Record<string, unknown> => withoutName(files, '.restore.');

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-swap-'));
    dbPath = createAppDatabase(dir, 40);
    live = join(dir, 'live');
    // A killed application's database: its last row is only in the -wal it left, with the -shm.
    holder = await startHolder(dbPath, { insert: true });
    await holder.kill('SIGKILL');
    restored = join(live, 'app.db.restore.20260101T000000Z-0a0b0c0d');
    createSampleDatabase(restored, 7);
  });
  afterEach(async () => {
    await holder?.kill();
    holder = undefined;
    removeDir(dir);
  });

  it('a failure at the final rename puts the live database and its sidecars back exactly, and the restore back at its name', async () => {
    const before = filesBeside(live);
    expect(Object.keys(before)).toEqual(['app.db', 'app.db-shm', 'app.db-wal', 'app.db.restore.20260101T000000Z-0a0b0c0d']);
    const ops: MoveOps = {
      async rename(from, to) {
        if (from === restored && to === dbPath) throw Object.assign(new Error('injected failure: EIO'), { code: 'EIO' });
        await rename(from, to);
      },
    };
    const failed = applyDatabase({ dbPath, restoredPath: restored, journalMode: 'wal', commands: { stop: undefined, start: undefined, env }, logger, ops });
    await expect(failed).rejects.toMatchObject({ code: 'apply_failed' });
    const message = await failed.catch((e: Error) => e.message);
    expect(message).toMatch(/^apply failed: injected failure: EIO\. Put back what had moved: moved .*app\.db\.pre-apply\.\d{8}T\d{6}Z-shm back to .*app\.db-shm; /);
    expect(message).toContain('The live files are as they were.');
    expect(withoutRestore(filesBeside(live))).toEqual(withoutRestore(before));
    expect(readNotes(restored)).toHaveLength(7);
    expect(readNotes(dbPath)).toHaveLength(41);
  });

  it('a start command that fails puts everything back and starts the application again on its old files', async () => {
    const before = filesBeside(live);
    const marker = join(dir, 'starts');
    // Fails the first time (the applied database), succeeds the second (the old one, put back).
    const start = node(`const fs = require('fs'); const first = !fs.existsSync(${JSON.stringify(marker)}); fs.appendFileSync(${JSON.stringify(marker)}, 'x'); if (first) { console.error('app would not start'); process.exit(3); }`);
    const failed = applyDatabase({ dbPath, restoredPath: restored, journalMode: 'wal', commands: { stop: node('0'), start, env }, logger });
    const message = await failed.then(() => 'succeeded', (e: Error) => e.message);
    expect(message).toContain('exited with status 3: app would not start');
    expect(message).toContain('The live files are as they were. Ran the start command again.');
    expect(readFileSync(marker, 'utf8')).toBe('xx');
    expect(withoutRestore(filesBeside(live))).toEqual(withoutRestore(before));
  });

  it('a stop command that fails changes nothing and starts nothing', async () => {
    const before = filesBeside(live);
    const marker = join(dir, 'started');
    const failed = applyDatabase({ dbPath, restoredPath: restored, journalMode: 'wal', commands: { stop: node('process.exit(1)'), start: ['touch', marker], env }, logger });
    await expect(failed).rejects.toMatchObject({ code: 'command_failed', message: expect.stringContaining('the stop command failed, so nothing was changed') });
    expect(existsSync(marker)).toBe(false);
    expect(withoutRestore(filesBeside(live))).toEqual(withoutRestore(before));
  });

  it('a process still holding the database after the stop command: refused naming it, nothing moved, the application started again', async () => {
    holder = await startHolder(dbPath);
    const before = filesBeside(live);
    const marker = join(dir, 'started');
    const failed = applyDatabase({
      dbPath, restoredPath: restored, journalMode: 'wal', logger, releaseTimeoutMs: 300,
      commands: { stop: node('0'), start: ['touch', marker], env },
    });
    const message = await failed.then(() => 'succeeded', (e: Error) => e.message);
    expect(message).toContain(`is open by pid ${holder.pid} (`);
    expect(message).toContain('The stop command ran, but after 0.3 s these still hold it');
    expect(message).toContain('Nothing had been moved');
    expect(message).toContain('Ran the start command again.');
    expect(existsSync(marker)).toBe(true);
    expect(withoutRestore(filesBeside(live))).toEqual(withoutRestore(before));
  });

  it('with no live database the restore takes its directory\'s owner and mode 0600; rollback finds nothing to put back', async () => {
    removeDir(live);
    mkdirSync(live);
    chownSync(live, NOBODY, NOBODY);
    createSampleDatabase(restored, 7);
    const applied = await applyDatabase({ dbPath, restoredPath: restored, journalMode: undefined, commands: { stop: undefined, start: undefined, env }, logger });
    expect(applied.database).toMatchObject({ uid: NOBODY, gid: NOBODY, mode: '0600', journalMode: 'delete' });
    expect(applied.moves).toEqual([{ from: restored, to: dbPath, role: 'into place' }]);
    const info = statSync(dbPath);
    expect({ uid: info.uid, mode: info.mode & 0o7777 }).toEqual({ uid: NOBODY, mode: 0o600 });
    await expect(rollbackDatabase({ dbPath, commands: { stop: undefined, start: undefined, env }, logger })).rejects.toMatchObject({ code: 'nothing_to_roll_back' });
    expect(readdirSync(live)).toEqual(['app.db']);
  });

  it('copies an archive restored on another filesystem into place (owners, modes, links), and a later failure removes the copies', async () => {
    // STATE_DIR on a tmpfs, the live paths on the disk: rename() cannot cross, so each path is copied.
    const shm = mkdtempSync(join('/dev/shm', 'snapkeep-swap-'));
    try {
      expect(statSync(shm).dev).not.toBe(statSync(live).dev);
      const restoredConf = join(shm, 'files', 'conf');
      mkdirSync(restoredConf, { recursive: true, mode: 0o750 });
      writeFileSync(join(restoredConf, 'app.conf'), 'restored\n', { mode: 0o640 });
      symlinkSync('app.conf', join(restoredConf, 'current'));
      const restoredDb = join(shm, 'app.sqlite');
      createSampleDatabase(restoredDb, 5);
      const conf = join(dir, 'conf');
      mkdirSync(conf);
      writeFileSync(join(conf, 'app.conf'), 'live\n');
      for (const p of [conf, join(conf, 'app.conf')]) chownSync(p, NOBODY, NOBODY);
      const moves = [{ from: restoredConf, to: conf, group: 'identity and config' }, { from: restoredDb, to: dbPath, group: 'data' }];
      const commands = { stop: undefined, start: undefined, env };

      const failing: MoveOps = {
        async rename(from, to) {
          if (to === dbPath && from === restoredDb) throw Object.assign(new Error('injected failure: EIO'), { code: 'EIO' });
          await rename(from, to);
        },
      };
      const before = { conf: ownedTree(conf), db: filesBeside(live) };
      const failed = applyArchive({ dbPath, moves, journalMode: 'wal', commands, logger, ops: failing });
      await expect(failed).rejects.toThrow(/injected failure: EIO\. Put back what had moved: .*removed the copy .*\/conf; moved .*conf\.pre-apply\.\d{8}T\d{6}Z back to /);
      expect({ conf: ownedTree(conf), db: filesBeside(live) }).toEqual(before);
      expect(readdirSync(dir).sort()).toEqual(['conf', 'live']);

      const applied = await applyArchive({ dbPath, moves, journalMode: 'wal', commands, logger });
      expect(applied.moves.filter((m) => m.role === 'into place')).toEqual([
        { from: restoredConf, to: conf, role: 'into place', copied: true },
        { from: restoredDb, to: dbPath, role: 'into place', copied: true },
      ]);
      expect(ownedTree(conf)).toEqual({
        '': { type: 'directory', mode: 0o750, uid: NOBODY, gid: NOBODY },
        'app.conf': expect.objectContaining({ type: 'file', mode: 0o640, uid: NOBODY, gid: NOBODY }),
        current: expect.objectContaining({ type: 'symlink', target: 'app.conf', uid: NOBODY }),
      });
      expect(readFileSync(join(conf, 'app.conf'), 'utf8')).toBe('restored\n');
      expect(readNotes(dbPath)).toHaveLength(5);
      expect(statSync(dbPath)).toMatchObject({ uid: NOBODY, mode: 0o100640 });
      // The originals stay where the restore put them.
      expect(readFileSync(join(restoredConf, 'app.conf'), 'utf8')).toBe('restored\n');
    } finally {
      removeDir(shm);
    }
  });
});
