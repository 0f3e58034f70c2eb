import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessApi, type InProcessApi } from '../helpers/in-process-api.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/**
 * Issue 13, finding 7, from the intruder's side: someone behind the same NAT or proxy as the
 * operators (one address for all) sends requests without credentials, or with wrong tokens, to
 * lock the operators' valid tokens out. Everything over real HTTP, with the default budget (30).
 */
describe('the failed-token limit never locks out a valid token', () => {
  let redis: TestRedis;
  let api: InProcessApi | undefined;
  beforeAll(async () => { redis = await startRedis(); });
  afterEach(async () => { await api?.close(); api = undefined; });
  afterAll(async () => { await redis?.close(); });

  const status = async (path: string, headers: Record<string, string> = {}): Promise<number> => {
    const res = await fetch(`${api!.url}${path}`, { headers });
    await res.arrayBuffer();
    return res.status;
  };
  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
  const basic = (password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`ops:${password}`).toString('base64')}` });

  /** validAccess is what the operators do: scrape, list, open the dashboard. */
  const validAccess = async (): Promise<number[]> => [
    await status('/metrics', bearer(api!.viewer)),
    await status('/api/backups', bearer(api!.admin)),
    await status('/api/jobs/backup-none', bearer(api!.viewer)),
    await status('/admin/queues', basic(api!.viewer)),
  ];

  it('requests without credentials are a plain 401 however many, and count for nothing', async () => {
    api = await startInProcessApi(redis.url);
    const answers: number[] = [];
    for (let i = 0; i < 20; i++) {
      // A browser's first requests for the dashboard carry no password; scrapers misconfigured carry none either.
      answers.push(await status('/admin/queues/static/favicon-32x32.png'));
      answers.push(await status('/metrics'));
      // A credential of the other scheme is no token tried: the dashboard's Basic header sent to /metrics.
      answers.push(await status('/metrics', basic(api.admin)));
    }
    expect(answers.every((s) => s === 401)).toBe(true);
    expect(await validAccess()).toEqual([200, 200, 404, 200]);
    // Nothing was counted: a wrong token now is the first failure, not the 61st.
    expect(await status('/metrics', bearer('skp_wrong'))).toBe(401);
    expect(api.logs.filter((line) => line.includes('"invalid token"'))).toHaveLength(1);
  });

  it('wrong tokens from the same address get 429 past the budget, while valid tokens from it keep working', async () => {
    api = await startInProcessApi(redis.url);
    const guesses: number[] = [];
    for (let i = 0; i < 35; i++) guesses.push(await status(i % 2 ? '/metrics' : '/api/jobs/x', bearer(`skp_guess-${i}`)));
    expect(guesses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(guesses.slice(30).every((s) => s === 429)).toBe(true);
    // The dashboard's wrong passwords are failed tokens too.
    expect(await status('/admin/queues', basic('skp_wrong'))).toBe(429);
    expect(await validAccess()).toEqual([200, 200, 404, 200]);
    // No credentials is still a plain 401 with a challenge, not a 429.
    const none = await fetch(`${api.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const limited = await fetch(`${api.url}/metrics`, { headers: bearer('skp_guess-again') });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toEqual({ error: { code: 'too_many_requests', message: expect.any(String) } });
  });

  it('logs each failed token at warn with client and path, never the token, then one line when the client goes over', async () => {
    api = await startInProcessApi(redis.url, { authRateLimit: { windowMs: 60_000, limit: 3 } });
    for (let i = 0; i < 6; i++) await status('/metrics?x=1', bearer(`skp_secret-guess-${i}`));
    const warnings = api.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.level === 'warn');
    expect(warnings.filter((w) => w.message === 'invalid token')).toEqual([1, 2, 3].map((failures) => expect.objectContaining({ client: expect.any(String), path: '/metrics', failures })));
    expect(warnings.filter((w) => String(w.message).startsWith('client over the failed-token limit'))).toHaveLength(1);
    expect(api.logs.join('\n')).not.toContain('skp_secret-guess');
  });
});
