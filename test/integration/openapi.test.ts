import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/create-app.js';
import { buildOpenApiDocument } from '../../src/api/openapi/openapi-document.js';
import { createLogger } from '../../src/logging/create-logger.js';
import { pollJob } from '../helpers/api-client.js';
import { startInProcessService, type ApiInstance, type InProcessService } from '../helpers/in-process-service.js';
import { fetchAndCheck, OpenApiValidator, type OpenApiDocument } from '../helpers/openapi-validator.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/** Layer is the slice of an Express 5 (router 2.3) stack layer this walk reads; @types/express does not declare it. */
interface Layer {
  rawPath?: unknown;
  name: string;
  handle: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
}
interface StackRouter { stack: Layer[] }
// A Router is a function with properties, so look for the stack, not for an object.
const isRouter = (value: unknown): value is StackRouter =>
  (typeof value === 'function' || (typeof value === 'object' && value !== null)) && Array.isArray((value as { stack?: unknown }).stack);

/**
 * servedRoutes walks the app's router stack into `METHOD /path/{param}` lines: routes, mounted
 * routers (recursively) and mounted sub-apps. A sub-app (Bull Board's dashboard: its UI assets and
 * own JSON API) counts as one entry, `GET {mount path}`, as the document has it.
 */
function servedRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (router: StackRouter, prefix: string): void => {
    for (const layer of router.stack) {
      const path = layer.route ? layer.route.path : layer.rawPath;
      if (path === undefined) continue;
      if (typeof path !== 'string') throw new Error(`a route with a non-string path (${String(path)}) cannot be checked`);
      const full = `${prefix}${path}`.replace(/\/+$/, '') || '/';
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) out.push(`${method.toUpperCase()} ${full.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
      } else if (isRouter(layer.handle)) {
        walk(layer.handle, full === '/' ? '' : full);
      } else if (layer.name === 'mounted_app') {
        out.push(`GET ${full}`);
      }
    }
  };
  if (!isRouter(app.router)) throw new Error('app.router has no stack');
  walk(app.router, '');
  return [...new Set(out)].sort();
}

const documented = (doc: OpenApiDocument): string[] =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();

describe('OpenAPI document', () => {
  let redis: TestRedis;
  let svc: InProcessService;
  let disabled: ApiInstance;
  let validator: OpenApiValidator;
  const auth = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

  beforeAll(async () => {
    redis = await startRedis();
    svc = await startInProcessService(redis.url);
    disabled = await svc.startApi({ store: 'none' });
  });
  afterAll(async () => {
    await svc?.close();
    await redis?.close();
  });

  it('is served at /api/openapi.json without a token, as OpenAPI 3.1 with bearer and basic schemes', async () => {
    const res = await fetch(`${svc.api.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await res.json()) as OpenApiDocument;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      basicAuth: expect.objectContaining({ type: 'http', scheme: 'basic' }),
    });
    validator = new OpenApiValidator(doc);
    // Strict ajv: a misspelt keyword in any schema fails here.
    validator.compileAll();
  });

  it('documents every route the app serves, and nothing it does not', async () => {
    const app = createApp({ queues: svc.api.queues, redis: {} as never, store: undefined, tokens: {} as never, logger: createLogger({ level: 'error', format: 'json' }) });
    const served = servedRoutes(app);
    expect(served).toContain('POST /api/backups/{id}/restore');
    expect(served).toContain('GET /admin/queues');
    expect(served).toEqual(documented(buildOpenApiDocument('test') as unknown as OpenApiDocument));
  });

  it('documents auth as the app enforces it: public, any token, superadmin, dashboard', async () => {
    for (const [path, ops] of Object.entries(validator.document.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const concrete = path.replace('{id}', '20260101T000000Z-0123abcd').replace('{jobId}', 'backup-x');
        const init = { method: method.toUpperCase(), headers: { 'content-type': 'application/json' }, body: method === 'get' ? null : '{}' };
        const anonymous = await fetch(`${svc.api.url}${concrete}`, init);
        // The role each route refuses: a viewer for superadmin routes, a superadmin for the dashboard.
        const asViewer = await fetch(`${svc.api.url}${concrete}`, { ...init, headers: { ...init.headers, ...(op['x-snapkeep-role'] === 'dashboard' ? { authorization: `Basic ${Buffer.from(`a:${svc.admin}`).toString('base64')}` } : { authorization: `Bearer ${svc.viewer}` }) } });
        const role = op['x-snapkeep-role'];
        expect(anonymous.status, `${method} ${path} anonymous`).toBe(role === 'public' ? 200 : 401);
        expect(op.security, `${method} ${path}`).toEqual(role === 'public' ? [] : [role === 'dashboard' ? { basicAuth: [] } : { bearerAuth: [] }]);
        if (role === 'superadmin' || role === 'dashboard') expect(asViewer.status, `${method} ${path} viewer`).toBe(403);
        if (role === 'any-token') expect(asViewer.status, `${method} ${path} viewer`).not.toBe(403);
        expect(anonymous.status, `${method} ${path} is served`).not.toBe(404);
      }
    }
  });

  it('matches live answers: accepted, job status, backup list, health, and errors', async () => {
    const check = async (base: string, path: string, init: RequestInit, status: number): Promise<unknown> => {
      const answer = await fetchAndCheck(validator, base, path, init);
      expect(answer.status, `${init.method ?? 'GET'} ${path}: ${JSON.stringify(answer.body)}`).toBe(status);
      expect(answer.problems).toEqual([]);
      return answer.body;
    };
    const base = svc.api.url;
    const admin = auth(svc.admin);

    const accepted = await check(base, '/api/backups', { method: 'POST', headers: admin, body: '{}' }, 202) as { statusUrl: string; jobId: string };
    const backup = await pollJob(base, accepted.statusUrl, svc.admin);
    expect(backup.state).toBe('completed');
    await check(base, accepted.statusUrl, { headers: auth(svc.viewer) }, 200);
    const list = await check(base, '/api/backups', { headers: admin }, 200) as { backups: Array<{ id: string }> };
    const id = list.backups[0]!.id;

    const restore = await check(base, `/api/backups/${id}/restore`, { method: 'POST', headers: admin, body: '{}' }, 202) as { statusUrl: string };
    await pollJob(base, restore.statusUrl, svc.admin);
    await check(base, restore.statusUrl, { headers: admin }, 200);
    const again = await check(base, `/api/backups/${id}/restore`, { method: 'POST', headers: admin, body: '{}' }, 202) as { statusUrl: string };
    expect((await pollJob(base, again.statusUrl, svc.admin)).state).toBe('failed');
    await check(base, again.statusUrl, { headers: admin }, 200);
    const prune = await check(base, '/api/backups/prune', { method: 'POST', headers: admin, body: '{"dryRun":true}' }, 202) as { statusUrl: string };
    await pollJob(base, prune.statusUrl, svc.admin);
    await check(base, prune.statusUrl, { headers: admin }, 200);

    // Issue 16: a restore drill (its result is a VerifyResult), a listing that now carries its outcome, and accept.
    const drill = await check(base, `/api/backups/${id}/verify`, { method: 'POST', headers: admin, body: '{}' }, 202) as { statusUrl: string };
    expect((await pollJob(base, drill.statusUrl, svc.admin)).state).toBe('completed');
    await check(base, drill.statusUrl, { headers: admin }, 200);
    const verified = await check(base, '/api/backups', { headers: admin }, 200) as { backups: Array<{ id: string; verified?: boolean }> };
    expect(verified.backups.find((b) => b.id === id)?.verified).toBe(true);
    await check(base, `/api/backups/${id}/accept`, { method: 'POST', headers: admin, body: '{}' }, 409);
    await check(base, '/api/backups/not-an-id/accept', { method: 'POST', headers: admin, body: '{}' }, 400);

    await check(base, '/api/health', {}, 200);
    await check(base, '/metrics', { headers: admin }, 200);
    await check(base, '/admin/queues', { headers: { authorization: `Basic ${Buffer.from(`ops:${svc.viewer}`).toString('base64')}` } }, 200);

    // Errors, each in the document under its status, each `{error: {code, message}}`.
    await check(base, '/api/backups', {}, 401);
    await check(base, '/api/backups', { headers: auth(svc.viewer) }, 403);
    await check(base, '/admin/queues', {}, 401);
    await check(base, '/api/backups', { method: 'POST', headers: admin, body: '{"nope":1}' }, 400);
    await check(base, '/api/backups', { method: 'POST', headers: admin, body: '{not json' }, 400);
    await check(base, '/api/backups/20200101T000000Z-00000000/restore', { method: 'POST', headers: admin, body: '{}' }, 404);
    await check(base, '/api/backups/not-an-id/restore', { method: 'POST', headers: admin, body: '{}' }, 400);
    await check(base, '/api/jobs/backup-unknown', { headers: admin }, 404);
    await check(base, '/api/jobs/bad%20id', { headers: admin }, 400);
    await check(base, '/api/backups', { method: 'POST', headers: admin, body: JSON.stringify({ pad: 'x'.repeat(20_000) }) }, 413);
    await check(disabled.url, '/api/backups', { headers: admin }, 503);
    await check(disabled.url, '/api/backups', { method: 'POST', headers: admin, body: '{}' }, 503);
    await check(disabled.url, '/api/health', {}, 200);
  });

  // Issue 13, findings 6 and 8: what a writer to BACKUP_LOCAL_DIR can plant still lists, as documented.
  it('lists a future-dated backup and one with a damaged sidecar, in the documented shape', async () => {
    const dir = (svc.config.store as { dir: string }).dir;
    const planted = '20991231T235959Z-deadbeef';
    const damaged = '20260101T000000Z-0badcafe';
    writeFileSync(join(dir, `${planted}.crbu`), 'x');
    writeFileSync(join(dir, `${damaged}.tar.age`), 'x');
    writeFileSync(join(dir, `.${damaged}.tar.age.meta.json`), '{"snapkeep-encryption":');
    const answer = await fetchAndCheck(validator, svc.api.url, '/api/backups', { headers: auth(svc.admin) });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.problems).toEqual([]);
    const { backups } = answer.body as { backups: Array<{ id: string; future?: boolean; encryption: string; error?: string }> };
    expect(backups.at(-1)).toMatchObject({ id: planted, future: true });
    expect(backups.find((b) => b.id === damaged)).toMatchObject({ encryption: 'unknown', error: expect.stringContaining(`.${damaged}.tar.age.meta.json`) });
  });
});
