import { randomBytes } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startService } from '../helpers/cli.js';
import { freePort, removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

/** walk lists every path under dir (not dir itself), with its lstat mode. */
function walk(dir: string): Array<{ path: string; mode: number; kind: string }> {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const info = lstatSync(path);
    const kind = info.isDirectory() ? 'dir' : info.isSocket() ? 'socket' : 'file';
    return [{ path, mode: info.mode & 0o777, kind }, ...(info.isDirectory() ? walk(path) : [])];
  });
}

describe('files snapkeep creates under STATE_DIR', () => {
  const dir = mkdtempSync(join(tmpdir(), 'snapkeep-modes-'));
  afterAll(() => removeDir(dir));

  it('are for its own user only, even when started with a permissive umask', async () => {
    // The umask of a careless shell or process manager; children inherit it.
    const previous = process.umask(0o022);
    try {
      const stateDir = join(dir, 'state');
      const dbPath = join(dir, 'app.db');
      createSampleDatabase(dbPath, 50);
      const env = {
        DB_PATH: dbPath, MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: stateDir,
        BACKUP_LOCAL_DIR: join(stateDir, 'backups'), PORT: String(await freePort()), BACKUP_SCHEDULE_HOURS: '0',
        SNAPKEEP_INTERNAL_TEST_HEARTBEAT_MS: '200',
      };
      expect((await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env)).code).toBe(0);
      expect((await runCli(['backup', 'create'], env)).code).toBe(0);
      // serve with its embedded Redis: the socket, the append-only files, the heartbeat.
      const service = await startService('serve', env);
      await new Promise((r) => setTimeout(r, 500));
      const whileRunning = walk(stateDir);
      expect(await service.stop()).toBe(0);
      const entries = [...whileRunning, ...walk(stateDir)];
      const names = entries.map((e) => e.path.slice(stateDir.length + 1));
      expect(names).toEqual(expect.arrayContaining(['snapkeep.db', 'backups', 'redis/redis.sock']));
      expect(names.some((n) => n.startsWith('worker.') && n.endsWith('.heartbeat'))).toBe(true);
      expect(names.some((n) => n.startsWith('backups/') && n.endsWith('.crbu'))).toBe(true);
      const open = entries.filter((e) => (e.mode & 0o077) !== 0).map((e) => `${e.path} ${e.kind} ${e.mode.toString(8)}`);
      expect(open).toEqual([]);
    } finally {
      process.umask(previous);
    }
  });
});
