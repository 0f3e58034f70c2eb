import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollJob } from '../helpers/api-client.js';
import { runCli, startService, type CliResult, type RunningService } from '../helpers/cli.js';
import { freePort, removeDir } from '../helpers/redis-server.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

/** filesUnder lists every regular file below a directory. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

/**
 * A whole run at LOG_LEVEL=debug: tokens, `serve` with its embedded Redis (whose append-only file
 * lands under STATE_DIR), backups and restores through the API and the CLI, refused requests and
 * failed commands, then a grep of every byte captured and stored for every secret involved.
 */
describe('no secret in any log, error message or state file', () => {
  let s3: TestS3Server;
  let dir: string;
  let service: RunningService | undefined;
  const masterKey = randomBytes(32);
  const wrongMasterKey = randomBytes(32).toString('hex');
  const s3Secret = randomBytes(24).toString('base64url');
  const wrongS3Secret = randomBytes(24).toString('base64url');
  /** Everything the processes wrote, except the token that `token create` prints on purpose. */
  const captured: Array<{ what: string; text: string }> = [];
  const keep = (what: string, r: CliResult): CliResult => {
    captured.push({ what: `${what} (stdout)`, text: r.stdout }, { what: `${what} (stderr)`, text: r.stderr });
    return r;
  };
  let admin = '';
  let viewer = '';

  beforeAll(async () => {
    s3 = await startS3Server({ bucket: 'snapkeep-secrets', secretAccessKey: s3Secret });
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-secrets-'));
  });
  afterAll(async () => {
    // SIGTERM, not SIGKILL: serve must get to stop the embedded Redis it started.
    await service?.stop('SIGTERM');
    await s3?.close();
    if (dir) removeDir(dir);
  });

  it('never writes the master key, a token or the S3 secret key', async () => {
    const dbPath = join(dir, 'app.db');
    createSampleDatabase(dbPath, 200);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = {
      DB_PATH: dbPath, MASTER_KEY: masterKey.toString('hex'), STATE_DIR: join(dir, 'state'), PORT: String(port),
      BACKUP_S3_ENDPOINT: s3.endpoint, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId, BACKUP_S3_SECRET_KEY: s3Secret,
      BACKUP_SCHEDULE_HOURS: '0', BACKUP_JOB_ATTEMPTS: '1', LOG_LEVEL: 'debug',
    };
    const created = await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env);
    captured.push({ what: 'token create (stderr)', text: created.stderr });
    admin = created.stdout.trim();
    const createdViewer = await runCli(['token', 'create', '--name', 'grafana', '--role', 'viewer'], env);
    captured.push({ what: 'token create viewer (stderr)', text: createdViewer.stderr });
    viewer = createdViewer.stdout.trim();
    expect(admin).toMatch(/^skp_/);

    service = await startService('serve', env);
    const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
    const backup = (await (await fetch(`${base}/api/backups`, { method: 'POST', headers: bearer(admin), body: '{}' })).json()) as { statusUrl: string };
    const done = await pollJob(base, backup.statusUrl, viewer);
    expect(done.state).toBe('completed');
    expect(done.result, JSON.stringify(done)).toBeTruthy();
    const { backupId } = done.result as { backupId: string };
    const restore = (await (await fetch(`${base}/api/backups/${backupId}/restore`, { method: 'POST', headers: bearer(admin), body: '{}' })).json()) as { statusUrl: string };
    expect((await pollJob(base, restore.statusUrl, admin)).state).toBe('completed');

    // Refused requests: a wrong token, a viewer where a superadmin is needed, a token in the wrong scheme.
    expect((await fetch(`${base}/api/backups`, { headers: bearer(`${admin}x`) })).status).toBe(401);
    expect((await fetch(`${base}/api/backups`, { method: 'POST', headers: bearer(viewer) })).status).toBe(403);
    expect((await fetch(`${base}/admin/queues`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: bearer(viewer) })).status).toBe(200);
    // A job that fails: restoring over the restore just written.
    const again = (await (await fetch(`${base}/api/backups/${backupId}/restore`, { method: 'POST', headers: bearer(admin), body: '{}' })).json()) as { statusUrl: string };
    expect((await pollJob(base, again.statusUrl, admin)).state).toBe('failed');

    // The CLI, in-process and through the queue, and failing with a wrong master key and a wrong S3 secret.
    expect(keep('backup create --queue', await runCli(['backup', 'create', '--queue', '--json'], env)).code).toBe(0);
    expect(keep('backup list', await runCli(['backup', 'list'], env)).code).toBe(0);
    expect(keep('backup restore --force', await runCli(['backup', 'restore', '--id', backupId, '--force'], env)).code).toBe(0);
    expect(keep('backup prune --dry-run', await runCli(['backup', 'prune', '--dry-run', '--json'], env)).code).toBe(0);
    expect(keep('token list', await runCli(['token', 'list', '--json'], env)).code).toBe(0);
    const wrongKey = keep('restore with a wrong key', await runCli(['backup', 'restore', '--id', backupId, '--force'], { ...env, MASTER_KEY: wrongMasterKey }));
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('wrong master key');
    const wrongSecret = keep('list with a wrong S3 secret', await runCli(['backup', 'list'], { ...env, BACKUP_S3_SECRET_KEY: wrongS3Secret }));
    expect(wrongSecret.code).toBe(1);
    const badSetting = keep('invalid MASTER_KEY', await runCli(['backup', 'list'], { ...env, MASTER_KEY: `${wrongMasterKey}zz` }));
    expect(badSetting.code).toBe(2);

    expect(await service.stop('SIGTERM')).toBe(0);
    captured.push({ what: 'serve', text: service.logs() });
    service = undefined;
    // The debug log really was on: otherwise this test proves little.
    expect(captured.find((c) => c.what === 'serve')!.text).toContain('"level":"debug"');

    const secrets: Record<string, string> = {
      'master key (hex)': masterKey.toString('hex'),
      'master key (HEX)': masterKey.toString('hex').toUpperCase(),
      'master key (base64)': masterKey.toString('base64'),
      'wrong master key': wrongMasterKey,
      'superadmin token': admin,
      'superadmin token (without prefix)': admin.replace(/^skp_/, ''),
      'viewer token': viewer,
      'S3 secret key': s3Secret,
      'wrong S3 secret key': wrongS3Secret,
    };
    const stateFiles = filesUnder(join(dir, 'state'));
    // The embedded Redis kept its append-only file there: job data is in the grep too.
    expect(stateFiles.some((f) => f.includes(join('state', 'redis')))).toBe(true);
    const haystacks = [
      ...captured,
      ...stateFiles.map((f) => ({ what: f, text: readFileSync(f).toString('latin1') })),
    ];
    const leaks = haystacks.flatMap(({ what, text }) =>
      Object.entries(secrets).filter(([, secret]) => text.includes(secret)).map(([name]) => `${name} in ${what}`));
    expect(leaks).toEqual([]);
  });
});
