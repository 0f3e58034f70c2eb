import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireToken } from '../../src/api/auth.js';
import { failedTokenLimit } from '../../src/api/failed-token-limit.js';
import { ApiError } from '../../src/api/http-errors.js';
import { SqliteTokenStore } from '../../src/auth/sqlite-token-store.js';
import { removeDir } from '../helpers/redis-server.js';

describe('token checks and the failed-auth limit under concurrency', () => {
  let dir: string;
  let tokens: SqliteTokenStore;
  let server: Server;
  let url: string;
  let viewer: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-auth-'));
    tokens = new SqliteTokenStore(dir);
    viewer = await tokens.create('poller', 'viewer');
    const app = express();
    app.get('/limited', requireToken(tokens, ['viewer'], { failedTokens: failedTokenLimit({ windowMs: 60_000, limit: 3 }) }), (_req, res) => {
      // A poll waits on Redis: the requests of many pollers overlap in time.
      setTimeout(() => res.json({ ok: true }), 50);
    });
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      const status = err instanceof ApiError ? err.status : 500;
      res.status(status).json({ error: { code: err instanceof ApiError ? err.code : 'internal' } });
    });
    server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await tokens?.close();
    if (dir) removeDir(dir);
  });

  const get = (token: string): Promise<number> =>
    fetch(`${url}/limited`, { headers: { authorization: `Bearer ${token}` } }).then(async (res) => { await res.arrayBuffer(); return res.status; });

  it('never answers 429 to many concurrent requests with a valid token, then limits guessing', async () => {
    const statuses = await Promise.all(Array.from({ length: 64 }, () => get(viewer)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await get('guess-1')).toBe(401);
    expect(await get('guess-2')).toBe(401);
    expect(await get('guess-3')).toBe(401);
    expect(await get('guess-4')).toBe(429);
    // Over budget, a valid token still gets in: the limit slows guessing, it never locks out a token.
    expect(await get(viewer)).toBe(200);
    expect(await get('guess-5')).toBe(429);
  });

  it('refuses a token revoked by another process on the next check', async () => {
    const token = await tokens.create('short-lived', 'viewer');
    expect((await tokens.verify(token))?.name).toBe('short-lived');
    // `snapkeep token revoke` runs in another process: another connection to the same database.
    const other = new SqliteTokenStore(dir);
    expect(await other.revoke('short-lived')).toBe(true);
    await other.close();
    expect(await tokens.verify(token)).toBeNull();
    expect((await tokens.verify(viewer))?.name).toBe('poller');
  });

  it('refuses a token revoked through the same store at once', async () => {
    const token = await tokens.create('gone', 'viewer');
    expect((await tokens.verify(token))?.role).toBe('viewer');
    await tokens.revoke('gone');
    expect(await tokens.verify(token)).toBeNull();
  });
});
