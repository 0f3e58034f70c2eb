import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessApi, type InProcessApi } from '../helpers/in-process-api.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

interface RawResponse { status: number; contentType: string; body: string }

/** send makes one raw HTTP request: fetch would normalise the very paths this test wants to send. */
function send(url: string, method: string, path: string, headers: Record<string, string>, body: string | undefined): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    // An explicit length keeps the request well-formed HTTP for every method, so the app answers it
    // (a body without one after OPTIONS/DELETE would be parsed as a second, broken request by Node).
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const req = request({ host: target.hostname, port: target.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const ID = '20261122T040506Z-0123abcd';
const segment = fc.oneof(
  fc.constantFrom('..', '%2e%2e', '%2E%2E%2F', '%00', '%2500', '.', '%', '%zz', ID, `${ID}.crbu`, 'restore', 'prune', '%2F', ';', '~', 'a'.repeat(300)),
  fc.stringMatching(/^[A-Za-z0-9._~%-]{0,40}$/),
  fc.integer({ min: 1, max: 5000 }).map((n) => 'x'.repeat(n)),
);
const path = fc.oneof(
  fc.tuple(fc.constantFrom('/api/backups/', '/api/jobs/', '/admin/queues/', '/api/', '/metrics/', '/'), fc.array(segment, { maxLength: 4 }))
    .map(([base, parts]) => base + parts.join('/')),
  fc.tuple(segment, fc.constantFrom('/restore', '')).map(([id, tail]) => `/api/backups/${id}${tail}`),
  fc.constantFrom('/api/backups', '/api/backups/prune', `/api/backups/${ID}/restore`, '/api/health', '/api/jobs/x', '/admin/queues', '/metrics'),
);
const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v));
const body = fc.oneof(
  fc.constant(undefined),
  json,
  fc.constantFrom('{', '{"dryRun": tru', '[]', 'null', '"x"', '{"dryRun": "yes"}', '{"dryRun": true}', '{"force": 1}', '{"__proto__": {"x": 1}}', '\u0000'),
  fc.string({ maxLength: 200 }),
  fc.integer({ min: 17_000, max: 300_000 }).map((n) => `{"a":"${'x'.repeat(n)}"}`),
);

describe('HTTP API fuzz: 5,000 malformed and hostile requests', () => {
  let redis: TestRedis;
  let api: InProcessApi;
  beforeAll(async () => {
    redis = await startRedis();
    // A generous budget, so most requests reach the routes instead of the brute-force limiter.
    api = await startInProcessApi(redis.url, { authRateLimit: { limit: 100_000 } });
  });
  afterAll(async () => {
    await api?.close();
    await redis?.close();
  });

  it('never answers 5xx, answers every error as JSON, and stays up', async () => {
    const auth = fc.oneof(
      fc.constant(undefined),
      fc.constant(() => `Bearer ${api.admin}`),
      fc.constant(() => `Bearer ${api.viewer}`),
      fc.constantFrom('Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', 'Basic !!!', 'bearer x', 'Token abc'),
      fc.stringMatching(/^[ -~]{0,100}$/).map((s) => `Bearer ${s}`),
      fc.integer({ min: 1000, max: 7000 }).map((n) => `Bearer ${'A'.repeat(n)}`),
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), path, auth, body, fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', ''),
        async (method, p, authorization, payload, contentType) => {
          const headers: Record<string, string> = {};
          const value = typeof authorization === 'function' ? authorization() : authorization;
          if (value !== undefined) headers.authorization = value;
          if (contentType) headers['content-type'] = contentType;
          const res = await send(api.url, method, p, headers, method === 'GET' ? undefined : payload);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, `${method} ${p.slice(0, 80)} → ${res.status} ${res.body.slice(0, 200)}`).toBeLessThan(500);
          if (res.status >= 400 && !p.startsWith('/admin/queues')) {
            expect(res.contentType).toContain('application/json');
            const parsed = JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown } };
            expect(typeof parsed.error?.code).toBe('string');
            expect(typeof parsed.error?.message).toBe('string');
          }
        }),
      { numRuns: 5000, seed: 20261122 },
    );
    // The fuzz reached the routes, not only the auth wall.
    expect(statuses.get(202) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
    const health = await fetch(`${api.url}/api/health`);
    expect(health.status).toBe(200);
  });
});
