import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';
import { OTHER_RUN } from '../helpers/stale-owners.js';

// Above any Linux pid_max, so never a live process.
const DEAD_PID = 2 ** 30;
const TWO_DAYS_AGO = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);

/**
 * A CLI-only installation runs no worker, whose start would clean up: `backup create` and
 * `backup restore` must remove what a killed run of theirs left (a snapshot is a plaintext copy of
 * the database), and nothing of the application's.
 */
describe('CLI backup and restore remove what killed runs left, and nothing else', () => {
  let dir: string;
  let env: Record<string, string>;
  const leftover = (path: string, old = false): string => {
    writeFileSync(path, 'a killed run\'s copy');
    if (old) utimesSync(path, TWO_DAYS_AGO, TWO_DAYS_AGO);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-cli-stale-'));
    createSampleDatabase(join(dir, 'app.db'), 50);
    env = { DB_PATH: join(dir, 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups') };
  });
  afterAll(() => { if (dir) removeDir(dir); });

  it('backup create removes a dead run\'s snapshot; backup restore a dead run\'s restore beside the database', async () => {
    mkdirSync(join(dir, 'state', 'tmp'), { recursive: true, mode: 0o700 });
    const snapshot = leftover(join(dir, 'state', 'tmp', `snapshot-${DEAD_PID}-${OTHER_RUN}-0123456789ab.sqlite.tmp`));
    const restoreTemp = leftover(join(dir, `restore-${DEAD_PID}-${OTHER_RUN}-0123456789ab.tmp`));
    // The application's own files, however old and however alike.
    const appFiles = [leftover(join(dir, 'restore-notes.tmp'), true), leftover(join(dir, 'snapshot-2025.tmp'), true)];

    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(existsSync(snapshot)).toBe(false);
    expect(existsSync(restoreTemp)).toBe(true); // beside the database: the restore's business

    const { backupId } = JSON.parse(created.stdout) as { backupId: string };
    const restored = await runCli(['backup', 'restore', '--id', backupId], env);
    expect(restored.code, restored.stderr).toBe(0);
    expect(existsSync(restoreTemp)).toBe(false);
    expect(existsSync(join(dir, `app.db.restore.${backupId}`))).toBe(true);
    for (const path of appFiles) expect(existsSync(path), path).toBe(true);
  });
});
