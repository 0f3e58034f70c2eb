import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';
import { signatureVerifies, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * Issue 16 from the command line, as an operator runs it: `backup verify` (exit 0 verified, 1 not,
 * 2 usage), the anomaly guardrail around `backup create`, `list`, `prune` and `accept`, and
 * `notify test`. No Redis, no service: the CLI works against the store alone.
 */
describe('snapkeep backup verify | accept, notify test', () => {
  let dir: string;
  let env: Record<string, string>;
  let receiver: WebhookReceiver;
  const ids: string[] = [];

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-drills-cli-'));
    mkdirSync(join(dir, 'live'));
    createSampleDatabase(join(dir, 'live', 'app.db'), 400);
    env = {
      DB_PATH: join(dir, 'live', 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'),
      BACKUP_LOCAL_DIR: join(dir, 'backups'), BACKUP_RETAIN_DAILY_DAYS: '1', BACKUP_RETAIN_WEEKLY_WEEKS: '0',
    };
  });
  afterAll(async () => {
    await receiver?.close();
    if (dir) removeDir(dir);
  });

  const besideDatabase = (): string[] => readdirSync(join(dir, 'live')).filter((n) => !/^app\.db(-wal|-shm)?$/.test(n));
  const create = async (): Promise<{ id: string; stderr: string }> => {
    const r = await runCli(['backup', 'create', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as { backupId: string }).backupId;
    ids.push(id);
    return { id, stderr: r.stderr };
  };

  it('verifies the newest backup: exit 0, every check named, nothing left behind', async () => {
    await create();
    const r = await runCli(['backup', 'verify', '--latest'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^backup ${ids[0]} verified \\([\\d.]+ s\\): download, decrypt, sqlite-header, integrity_check, fingerprint passed$`, 'm'));
    const json = await runCli(['backup', 'verify', '--id', ids[0]!, '--json'], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ verified: true, verifications: [{ backupId: ids[0], verified: true }] });
    expect(besideDatabase()).toEqual([]);
    expect(readdirSync(join(dir, 'state', 'tmp'))).toEqual([]);
  });

  it('exit 2 for a usage error, exit 1 naming the failed check for a damaged backup', async () => {
    expect((await runCli(['backup', 'verify'], env)).code).toBe(2);
    expect((await runCli(['backup', 'verify', '--id', ids[0]!, '--latest'], env)).code).toBe(2);
    expect((await runCli(['backup', 'verify', '--id', 'not-an-id'], env)).code).toBe(2);

    const { id } = await create();
    const file = join(dir, 'backups', `${id}.crbu`);
    const original = readFileSync(file);
    const damaged = Buffer.from(original);
    damaged[Math.floor(damaged.length / 2)]! ^= 0x01;
    writeFileSync(file, damaged);
    const r = await runCli(['backup', 'verify', '--id', id], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`backup ${id} NOT verified: the decrypt check failed: wrong master key or corrupted backup`);
    expect(besideDatabase()).toEqual([]);
    writeFileSync(file, original);
  });

  it('flags a backup of an emptied table; prune keeps the one before it until accept', async () => {
    const good = ids.at(-1)!;
    const db = new Database(env.DB_PATH!);
    db.exec('DELETE FROM notes');
    db.close();
    const { id: emptied, stderr } = await create();
    expect(stderr).toContain(`warning: backup ${emptied} looks like an emptied database: `);
    expect(stderr).toContain(`table notes lost 100% of its rows since ${good} (400 → 0)`);
    expect(stderr).toContain(`backup ${good} is kept until \`snapkeep backup accept --id ${emptied}\``);

    const table = await runCli(['backup', 'list'], env);
    expect(table.stdout).toContain(`backup ${emptied} is flagged as an anomaly: `);
    const listed = JSON.parse((await runCli(['backup', 'list', '--json'], env)).stdout) as { backups: Array<{ id: string; anomaly?: { previousId: string } }> };
    expect(listed.backups.find((b) => b.id === emptied)?.anomaly).toMatchObject({ previousId: good });

    const held = await runCli(['backup', 'prune', '--json'], env);
    expect(held.code, held.stderr).toBe(0);
    const heldResult = JSON.parse(held.stdout) as { kept: string[]; deleted: string[]; reasons: Record<string, string[]> };
    expect(heldResult.reasons[good]).toEqual(['before-anomaly']);
    expect(heldResult.kept).toEqual([emptied, good]);

    const notFlagged = await runCli(['backup', 'accept', '--id', good], env);
    expect(notFlagged.code).toBe(1);
    expect(notFlagged.stderr).toContain(`backup ${good} is not flagged as an anomaly`);
    const accepted = await runCli(['backup', 'accept', '--id', emptied], env);
    expect(accepted.code, accepted.stderr).toBe(0);
    const pruned = JSON.parse((await runCli(['backup', 'prune', '--json'], env)).stdout) as { deleted: string[] };
    expect(pruned.deleted).toEqual([good]);
  });

  it('notify test reports each target\'s answer without its credentials or path', async () => {
    const none = await runCli(['notify', 'test'], env);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain('no notification target is configured');

    const port = new URL(receiver.url).port;
    const notifyEnv = {
      ...env, NOTIFY_WEBHOOK_URLS: `http://ops:pw-${'x'.repeat(8)}@127.0.0.1:${port}/hook`, NOTIFY_WEBHOOK_SECRET: 'cli-secret',
      NOTIFY_HEALTHCHECKS_URL: `${receiver.url}/hc/ping-key-0123456789abcdef`,
    };
    const ok = await runCli(['notify', 'test'], notifyEnv);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^webhook-[0-9a-f]{12} \\(http://127.0.0.1:${port}\\): answered 200$`, 'm'));
    expect(ok.stdout).toContain(`healthchecks (http://127.0.0.1:${port}): answered 200`);
    for (const secret of ['pw-xxxxxxxx', 'ping-key-0123456789abcdef', 'cli-secret']) expect(ok.stdout + ok.stderr).not.toContain(secret);
    const hook = receiver.requests.find((r) => r.path === '/hook')!;
    expect(JSON.parse(hook.body)).toMatchObject({ event: 'notify.test' });
    expect(signatureVerifies(hook, 'cli-secret')).toBe(true);
    // A test changes no healthchecks state: /log, never a success or a failure.
    expect(receiver.requests.filter((r) => r.path.startsWith('/hc/')).map((r) => r.path)).toEqual(['/hc/ping-key-0123456789abcdef/log']);

    receiver.setMode('error');
    const failed = await runCli(['notify', 'test', '--json'], notifyEnv);
    expect(failed.code).toBe(1);
    const answers = (JSON.parse(failed.stdout) as { targets: Array<{ ok: boolean; error?: string }> }).targets;
    expect(answers).toHaveLength(2);
    for (const a of answers) expect(a).toMatchObject({ ok: false, error: expect.stringMatching(/answered 500$/) });
  });
});
