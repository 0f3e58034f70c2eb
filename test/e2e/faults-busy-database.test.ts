import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startBusyWriter, tableCounts, type BusyWriter } from '../helpers/busy-writer.js';
import { runCli } from '../helpers/cli.js';
import { removeDir } from '../helpers/redis-server.js';

/**
 * Fault 4, end to end: `snapkeep backup create` (in-process, directory store) while another process
 * commits as fast as it can, in WAL and in rollback-journal mode. The unit test drives
 * snapshotDatabase; this drives the built CLI, then restores the backup, which verifies it.
 */
describe('fault: the database is written hard during `snapkeep backup create`', () => {
  let writer: BusyWriter | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await writer?.stop();
    writer = undefined;
    if (dir) removeDir(dir);
    dir = undefined;
  });

  it.each(['WAL', 'DELETE'] as const)('backs up a consistent state that restores and verifies (%s journal)', async (journalMode) => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-busy-'));
    const dbPath = join(dir, 'app.db');
    const env = { DB_PATH: dbPath, MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups') };
    // In rollback-journal mode a writer that never pauses holds its exclusive lock almost all the
    // time and can keep the snapshot's reader waiting for seconds (the unit test covers that case);
    // a millisecond between commits, hundreds of commits a second still, keeps this test's time bounded.
    writer = await startBusyWriter(dbPath, journalMode, join(dir, 'writer.cjs'), journalMode === 'DELETE' ? 1 : 0);

    const before = writer.committedRows();
    const created = await runCli(['backup', 'create', '--json'], env);
    const after = writer.committedRows();
    expect(created.code, created.stderr).toBe(0);
    // The writer was never starved into an error: it kept running and committing through the backup.
    expect(writer.child.exitCode).toBeNull();
    expect(after).toBeGreaterThan(before);
    // The restore's own checks (tag, header, integrity_check) need no contention: the fault is over.
    await writer.stop();
    const { backupId } = JSON.parse(created.stdout) as { backupId: string };

    const restored = await runCli(['backup', 'restore', '--id', backupId], env);
    expect(restored.code, restored.stderr).toBe(0);
    const { a, b } = tableCounts(`${dbPath}.restore.${backupId}`);
    // One committed state: both tables agree, and it lies between what readers saw before and after.
    expect(a).toBe(b);
    expect(a).toBeGreaterThanOrEqual(before);
    expect(a).toBeLessThanOrEqual(after);
  });
});
