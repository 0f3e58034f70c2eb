import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobDatabase } from '../helpers/blob-database.js';
import { CLI_PATH, baseEnv, runCli, NEUTRAL_CWD } from '../helpers/cli.js';
import { removeDir } from '../helpers/redis-server.js';

/** interruptWhen runs the CLI and sends SIGINT as soon as `ready()` says the operation is under way. */
async function interruptWhen(args: string[], env: Record<string, string>, ready: () => boolean): Promise<{ code: number | null; stderr: string; interrupted: boolean }> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { env: baseEnv(env), cwd: NEUTRAL_CWD, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let interrupted = false;
  const poll = setInterval(() => {
    if (!interrupted && ready()) {
      interrupted = true;
      child.kill('SIGINT');
    }
  }, 5);
  const code = await exited;
  clearInterval(poll);
  return { code, stderr, interrupted };
}

describe('Ctrl-C during an in-process restore or backup', () => {
  let dir: string;
  let env: Record<string, string>;
  let backupId: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-interrupt-'));
    createBlobDatabase(join(dir, 'app.db'), 200);
    env = { DB_PATH: join(dir, 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups') };
    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    backupId = (JSON.parse(created.stdout) as { backupId: string }).backupId;
  });
  afterAll(() => { if (dir) removeDir(dir); });

  it('removes the decrypted temporary file beside DB_PATH and exits 130', async () => {
    const temporaries = (): string[] => readdirSync(dir).filter((f) => f.startsWith('restore-'));
    const result = await interruptWhen(['backup', 'restore', '--id', backupId], env, () => temporaries().length > 0);
    expect(result.interrupted).toBe(true);
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toContain('interrupted by SIGINT');
    expect(temporaries()).toEqual([]);
    expect(readdirSync(dir)).not.toContain(`app.db.restore.${backupId}`);
  });

  it('removes the snapshot under STATE_DIR/tmp and stores nothing', async () => {
    const before = readdirSync(join(dir, 'backups')).filter((f) => !f.startsWith('.'));
    const snapshots = (): string[] => readdirSync(join(dir, 'state', 'tmp')).filter((f) => f.startsWith('snapshot-'));
    const result = await interruptWhen(['backup', 'create'], env, () => snapshots().length > 0);
    expect(result.interrupted).toBe(true);
    expect(result.code, result.stderr).toBe(130);
    expect(snapshots()).toEqual([]);
    expect(readdirSync(join(dir, 'backups')).filter((f) => !f.startsWith('.'))).toEqual(before);
  });
});
