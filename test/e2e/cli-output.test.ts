import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, CLI_PATH, runCli, NEUTRAL_CWD } from '../helpers/cli.js';
import { removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

/**
 * runInTerminal runs `snapkeep …` under util-linux `script`, which gives it a pseudo-terminal, and
 * returns everything the terminal showed.
 */
function runInTerminal(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI_PATH, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: baseEnv(env), cwd: NEUTRAL_CWD, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('CLI output: tables for people, --json for scripts, progress only on a terminal', () => {
  let dir: string;
  let env: Record<string, string>;
  const ids: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-cli-'));
    createSampleDatabase(join(dir, 'app.db'), 200);
    env = { DB_PATH: join(dir, 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'), BACKUP_LOCAL_DIR: join(dir, 'backups') };
    for (const [name, role] of [['ops', 'superadmin'], ['grafana', 'viewer']] as const) {
      expect((await runCli(['token', 'create', '--name', name, '--role', role], env)).code).toBe(0);
    }
  });
  afterAll(() => { if (dir) removeDir(dir); });

  it('token list --json is {tokens: [{name, role, createdAt}]}, and never a token or its hash', async () => {
    const r = await runCli(['token', 'list', '--json'], env);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as { tokens: Array<Record<string, unknown>> };
    expect(parsed).toEqual({ tokens: [
      { name: 'grafana', role: 'viewer', createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) },
      { name: 'ops', role: 'superadmin', createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) },
    ] });
    expect(r.stdout).not.toMatch(/skp_|[0-9a-f]{64}/);
    expect(r.stderr).toBe('');
  });

  it('token list is an aligned table with a header', async () => {
    const r = await runCli(['token', 'list'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+ROLE\s+CREATED \(UTC\)$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([['grafana', 'viewer'], ['ops', 'superadmin']]);
    // Columns line up: every row's role starts where the header's ROLE does.
    const column = lines[0]!.indexOf('ROLE');
    for (const line of lines.slice(1)) expect(line.slice(column)).toMatch(/^(viewer|superadmin)\s/);
  });

  it('backup create draws no progress bar when stderr is not a terminal, and --json prints only JSON', async () => {
    const plain = await runCli(['backup', 'create'], env);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).not.toContain('\r');
    expect(plain.stderr).not.toContain('[#');
    ids.push(/backup (\S+) stored/.exec(plain.stdout)![1]!);
    // The key as `backup list` shows it: with BACKUP_LOCAL_DIR, the file's name in that directory.
    expect(plain.stdout).toMatch(/^backup (\S+) stored as \1\.crbu \(\d+ bytes\)$/m);
    const json = await runCli(['backup', 'create', '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout) as { backupId: string; key: string; size: number };
    expect(result.size).toBeGreaterThan(0);
    expect(result.key).toBe(`${result.backupId}.crbu`);
    ids.push(result.backupId);
    expect(json.stderr).not.toContain('\r');
  });

  it('backup create draws a progress bar on a terminal', async () => {
    const r = await runInTerminal(['backup', 'create'], env);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/\r(snapshot|upload)\s+\[[#.]{30}\]\s+\d+%/);
    ids.push(/backup (\S+) stored/.exec(r.output)![1]!);
  });

  it('backup list is a table, newest first; --json is the API\'s {backups: […]}', async () => {
    const table = await runCli(['backup', 'list'], env);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TIME \(UTC\)\s+SIZE\s+KIND\s+ENCRYPTION$/);
    const newestFirst = [...ids].sort().reverse();
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(newestFirst);
    for (const line of lines.slice(1)) expect(line).toMatch(/^\S+\s+\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\s+\d+(\.\d)? (B|KiB|MiB)\s+database\s+master-key$/);

    const json = await runCli(['backup', 'list', '--json'], env);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { backups: Array<{ id: string; createdAt: string; size: number; key: string }> };
    expect(parsed.backups.map((b) => b.id)).toEqual(newestFirst);
    // A directory store's key is the file's name in BACKUP_LOCAL_DIR (an S3 store's is prefix + name).
    for (const b of parsed.backups) expect(b).toMatchObject({ key: `${b.id}.crbu`, size: expect.any(Number), createdAt: expect.any(String) });
  });

  it('backup prune --dry-run --json is {kept, deleted, dryRun}', async () => {
    const r = await runCli(['backup', 'prune', '--dry-run', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    // All from today: the day's newest stays, the rest would go.
    const [newest, ...older] = [...ids].sort().reverse();
    expect(JSON.parse(r.stdout)).toMatchObject({ kept: [newest], deleted: older, dryRun: true });
  });
});
