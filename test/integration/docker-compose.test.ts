import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MASTER_KEY = 'ab'.repeat(32);
const EMPTY_ENV_FILE = join(mkdtempSync(join(tmpdir(), 'compose-env-')), 'empty.env');
writeFileSync(EMPTY_ENV_FILE, '');

/** compose runs Debian's docker-compose 1.29, which validates and renders a file offline, with no engine. */
function compose(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Only PATH and HOME from the host, so no COMPOSE_* or .env setting of the machine changes the answer.
    // --env-file: docker-compose would otherwise read the checkout's .env (which `npm start` writes).
    execFile('docker-compose', ['--env-file', EMPTY_ENV_FILE, '-f', 'docker-compose.yml', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

describe('deployment files', () => {
  it('docker-compose accepts docker-compose.yml with MASTER_KEY set', async () => {
    const [r, services, volumes] = await Promise.all([['config'], ['config', '--services'], ['config', '--volumes']].map((args) => compose(args, { MASTER_KEY })));
    expect(r!.code, r!.stderr).toBe(0);
    expect(r!.stdout).toContain(`MASTER_KEY: ${MASTER_KEY}`);
    expect(services!.stdout.trim().split('\n').sort()).toEqual(['api', 'create-bucket', 'minio', 'redis', 'worker']);
    expect(volumes!.stdout.trim().split('\n').sort()).toEqual(['minio-data', 'redis-data', 'snapkeep-state']);
  });

  it('runs Redis append-only, the api and worker roles, and health checks on what can be checked', async () => {
    const { stdout } = await compose(['config'], { MASTER_KEY });
    // Rendered YAML: each service block starts at two spaces of indentation.
    const block = (name: string): string => {
      const start = stdout.indexOf(`\n  ${name}:\n`);
      const next = stdout.slice(start + 1).search(/\n {2}[a-z-]+:\n/);
      return stdout.slice(start, next < 0 ? undefined : start + 1 + next);
    };
    expect(block('redis')).toMatch(/- --appendonly\n\s+- "yes"/);
    expect(block('api')).toMatch(/command:\n\s+- api\n/);
    expect(block('worker')).toMatch(/command:\n\s+- worker\n/);
    for (const name of ['redis', 'minio', 'api', 'worker']) expect(block(name), name).toContain('healthcheck:');
    expect(block('worker')).toMatch(/healthcheck:\n(\s+\S.*\n)*?\s+- CMD-SHELL\n\s+- .*worker\.\$+\(hostname\)\.heartbeat/);
    expect(block('worker')).toContain(':/srv/app:rw');
    expect(block('create-bucket')).toMatch(/condition: service_healthy/);
  });

  it("the worker's health check passes on a fresh heartbeat and fails on a stale or missing one", () => {
    // The check as compose hands it to the container's /bin/sh: `$$` is compose's escape for `$`.
    const line = readFileSync(`${ROOT}docker-compose.yml`, 'utf8').split('\n').find((l) => l.includes('.heartbeat') && l.includes('CMD-SHELL'));
    expect(line).toBeDefined();
    const [kind, script] = JSON.parse(line!.replace(/^\s*test:\s*/, '')) as [string, string];
    expect(kind).toBe('CMD-SHELL');
    const check = script.replaceAll('$$', '$');
    const stateDir = mkdtempSync(join(tmpdir(), 'snapkeep-healthcheck-'));
    const run = (): number | null => spawnSync('/bin/sh', ['-c', check], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', STATE_DIR: stateDir }, stdio: 'ignore' }).status;
    try {
      expect(run(), 'missing').not.toBe(0);
      const file = join(stateDir, `worker.${hostname()}.heartbeat`);
      writeFileSync(file, '{}\n', { mode: 0o600 });
      expect(run(), 'fresh').toBe(0);
      const now = Date.now() / 1000;
      utimesSync(file, now - 50, now - 50);
      expect(run(), '50 s old').toBe(0);
      utimesSync(file, now - 61, now - 61);
      expect(run(), '61 s old').not.toBe(0);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('refuses to render without MASTER_KEY, naming it', async () => {
    const r = await compose(['config'], {});
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('set MASTER_KEY');
  });

  it('builds a multi-stage, non-root image with production dependencies only', () => {
    const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/--omit=dev/);
    expect(dockerfile).toMatch(/^USER (?!root)\S+/m);
  });
});
