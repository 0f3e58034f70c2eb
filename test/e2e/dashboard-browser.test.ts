import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollJob } from '../helpers/api-client.js';
import { runCli, startService, type RunningService } from '../helpers/cli.js';
import { freePort, removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

const CHROMIUM = '/usr/bin/chromium';
/** Screenshots land here (gitignored) for a person to look at. */
const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/', import.meta.url));

const basic = (password: string): string => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;

describe('Bull Board dashboard in a real browser', () => {
  let redis: TestRedis;
  let service: RunningService;
  let dir: string;
  let base: string;
  let admin: string;
  let viewer: string;
  let backupJobId: string;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-dashboard-'));
    createSampleDatabase(join(dir, 'app.db'), 200);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = {
      DB_PATH: join(dir, 'app.db'), MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'),
      BACKUP_LOCAL_DIR: join(dir, 'backups'), REDIS_URL: redis.url, PORT: String(port), BACKUP_SCHEDULE_HOURS: '0',
      QUEUE_PREFIX: `dash${randomBytes(3).toString('hex')}`,
    };
    admin = (await runCli(['token', 'create', '--name', 'ops', '--role', 'superadmin'], env)).stdout.trim();
    viewer = (await runCli(['token', 'create', '--name', 'grafana', '--role', 'viewer'], env)).stdout.trim();
    service = await startService('serve', env);
    const res = await fetch(`${base}/api/backups`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    const accepted = (await res.json()) as { jobId: string; statusUrl: string };
    backupJobId = accepted.jobId;
    expect((await pollJob(base, accepted.statusUrl, admin)).state).toBe('completed');
  });

  afterAll(async () => {
    await context?.close();
    const code = await service?.stop();
    await redis?.close();
    if (dir) removeDir(dir);
    // Checked last, so a failed stop still leaves nothing behind.
    if (service) expect(code).toBe(0);
  });

  it('refuses without credentials (401, Basic challenge), with a wrong or bearer one (401), and a superadmin token (403)', async () => {
    const none = await fetch(`${base}/admin/queues`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm="snapkeep"/);
    const wrong = await fetch(`${base}/admin/queues`, { headers: { authorization: basic('skp_wrong') } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    // The dashboard is for browsers: a bearer header is not its scheme.
    const bearer = await fetch(`${base}/admin/queues`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(bearer.status).toBe(401);
    // A superadmin token is never a dashboard password: browsers keep that password, and a stolen
    // one must not be able to start a prune through the API.
    const asAdmin = await fetch(`${base}/admin/queues`, { headers: { authorization: basic(admin) } });
    expect(asAdmin.status).toBe(403);
    expect(await asAdmin.json()).toEqual({ error: { code: 'forbidden', message: expect.any(String) } });
    // Bull Board's own JSON API sits behind the same door.
    expect((await fetch(`${base}/admin/queues/api/queues`)).status).toBe(401);
    expect((await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: basic(admin) } })).status).toBe(403);
  });

  it('shows the backup, restore and prune queues and the completed backup job to a viewer token', async () => {
    const profile = mkdtempSync(join(dir, 'chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      httpCredentials: { username: 'ops', password: viewer },
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1280, height: 800 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    // Everything the page loads comes from the service itself (Bull Board's page links a Google font).
    const foreign: string[] = [];
    page.on('request', (request) => { if (!request.url().startsWith(base) && !request.url().startsWith('data:')) foreign.push(request.url()); });
    const response = await page.goto(`${base}/admin/queues`, { waitUntil: 'domcontentloaded' });
    expect(response?.status()).toBe(200);
    // The overview lists each queue by name, with links to it.
    for (const queue of ['backup', 'restore', 'prune']) {
      await page.locator(`a[href$="/queue/${queue}"]`).first().waitFor({ state: 'visible', timeout: 15_000 });
    }
    await expect(page.title()).resolves.toBe('snapkeep');
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard.png'), fullPage: true });

    await page.goto(`${base}/admin/queues/queue/backup?status=completed`, { waitUntil: 'domcontentloaded' });
    await page.getByText(backupJobId).first().waitFor({ state: 'visible', timeout: 15_000 });
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-backup-completed.png'), fullPage: true });
    expect(statSync(join(OUTPUT_DIR, 'dashboard.png')).size).toBeGreaterThan(10_000);
    expect(foreign).toEqual([]);
    const html = await (await fetch(`${base}/admin/queues`, { headers: { authorization: basic(viewer) } })).text();
    expect(html).not.toContain('fonts.googleapis.com');
  });

  // An intruder holding the dashboard's Basic credentials (or a browser tricked into a cross-site
  // post that carries them) tries every write Bull Board has: none may change a queue.
  it.each([
    ['POST', '/api/queues/prune/add', { name: 'prune', data: { dryRun: false, force: true } }],
    ['POST', '/api/queues/restore/add', { name: 'restore', data: { backupId: 'x', target: '/tmp/elsewhere' } }],
    ['PUT', '/api/queues/backup/retry/completed', undefined],
    ['PUT', '/api/queues/backup/promote', undefined],
    ['PUT', '/api/queues/backup/clean/completed', undefined],
    ['PUT', '/api/queues/backup/JOB/retry', undefined],
    ['PUT', '/api/queues/backup/JOB/clean', undefined],
    ['PATCH', '/api/queues/backup/JOB/update-data', { trigger: 'api', sealedPassphrase: 'intruder' }],
    ['PUT', '/api/queues/backup/obliterate', undefined],
    ['PUT', '/api/queues/backup/pause', undefined],
    ['PUT', '/api/queues/pause', undefined],
    ['PUT', '/api/queues/backup/empty', undefined],
    ['PUT', '/api/queues/backup/job-schedulers/scheduled-backup/remove', undefined],
    ['DELETE', '/api/queues/backup/JOB', undefined],
  ])('refuses %s %s (read-only dashboard), changing nothing', async (method, route, body) => {
    const before = await (await fetch(`${base}/api/jobs/${backupJobId}`, { headers: { authorization: `Bearer ${admin}` } })).json();
    const res = await fetch(`${base}/admin/queues${route.replace('JOB', encodeURIComponent(backupJobId))}`, {
      method,
      headers: { authorization: basic(viewer), 'content-type': body ? 'application/json' : 'text/plain' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    const counts = (await (await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: basic(viewer) } })).json()) as { queues: Array<{ name: string; isPaused: boolean; counts: Record<string, number> }> };
    for (const q of counts.queues) {
      expect(q.isPaused, q.name).toBe(false);
      expect(q.counts.waiting ?? 0, q.name).toBe(0);
    }
    const after = await (await fetch(`${base}/api/jobs/${backupJobId}`, { headers: { authorization: `Bearer ${admin}` } })).json();
    expect(after).toEqual(before);
  });

  it('refuses a cross-site text/plain form post to add a job', async () => {
    const res = await fetch(`${base}/admin/queues/api/queues/prune/add`, {
      method: 'POST',
      headers: { authorization: basic(viewer), 'content-type': 'text/plain', origin: 'https://evil.example' },
      body: JSON.stringify({ name: 'prune', data: { dryRun: false } }),
    });
    expect(res.status).toBe(405);
  });
});
