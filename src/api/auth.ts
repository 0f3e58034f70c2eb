import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { Role, TokenInfo, TokenStore } from '../auth/token-store.js';
import { ApiError } from './http-errors.js';

declare module 'express-serve-static-core' {
  interface Request {
    token?: TokenInfo;
  }
}

/** bearerToken reads `Authorization: Bearer …`, or null. */
function bearerToken(req: Request): string | null {
  const header = req.headers.authorization;
  if (!header || header.length > 512) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/** basicPassword reads the password of `Authorization: Basic …`, which for the dashboard is a token. */
function basicPassword(req: Request): string | null {
  const header = req.headers.authorization;
  if (!header || header.length > 512) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}

/**
 * requireToken admits a request whose token has one of the roles. Missing or unknown: 401 with a
 * challenge; known but wrong role: 403.
 */
export function requireToken(tokens: TokenStore, roles: readonly Role[], scheme: 'Bearer' | 'Basic' = 'Bearer'): RequestHandler {
  const challenge = scheme === 'Bearer' ? 'Bearer realm="snapkeep"' : 'Basic realm="snapkeep", charset="UTF-8"';
  return (req: Request, _res: Response, next: NextFunction) => {
    const presented = scheme === 'Bearer' ? bearerToken(req) : basicPassword(req);
    const info = presented === null ? null : tokens.verify(presented);
    if (!info) {
      req.authFailures?.record(req);
      next(new ApiError(401, 'unauthorized', presented === null ? 'a token is required' : 'the token is not valid', { 'WWW-Authenticate': challenge }));
      return;
    }
    if (!roles.includes(info.role)) {
      next(new ApiError(403, 'forbidden', `this needs a ${roles.join(' or ')} token`));
      return;
    }
    req.token = info;
    next();
  };
}

/**
 * AuthFailureRecorder is how requireToken tells the failed-auth limit in front of it about a
 * rejected token: only rejections are counted, at the moment they happen.
 */
interface AuthFailureRecorder {
  record(req: Request): void;
}

declare module 'express-serve-static-core' {
  interface Request {
    authFailures?: AuthFailureRecorder;
  }
}

// Clients remembered at most; past it the oldest entries go first (an attacker with many addresses).
const MAX_TRACKED_CLIENTS = 100_000;

/**
 * limitFailedAuth slows token guessing: each client (its IP address; an IPv6 /56 counts as one)
 * gets a budget of rejected tokens per window; a client over budget is answered 429 on every
 * request until its window ends. Requests with a valid token never touch the budget, however many
 * run at once: express-rate-limit's skipSuccessfulRequests counted each request when it arrived and
 * gave it back when it ended, so 32 concurrent valid polls exhausted a budget of 30.
 */
export function limitFailedAuth(options: { windowMs?: number; limit?: number } = {}): RequestHandler {
  const windowMs = options.windowMs ?? 60_000;
  const limit = options.limit ?? 30;
  const failures = new Map<string, { count: number; resetAt: number }>();
  const clientKey = (req: Request): string => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
  const recorder: AuthFailureRecorder = {
    record(req) {
      const key = clientKey(req);
      const now = Date.now();
      const entry = failures.get(key);
      if (entry && entry.resetAt > now) {
        entry.count++;
        return;
      }
      failures.delete(key);
      if (failures.size >= MAX_TRACKED_CLIENTS) {
        for (const [k, e] of failures) if (e.resetAt <= now) failures.delete(k);
        while (failures.size >= MAX_TRACKED_CLIENTS) failures.delete(failures.keys().next().value!);
      }
      failures.set(key, { count: 1, resetAt: now + windowMs });
    },
  };
  return (req: Request, res: Response, next: NextFunction) => {
    if (failures.size > 0) {
      const key = clientKey(req);
      const entry = failures.get(key);
      if (entry && entry.resetAt <= Date.now()) failures.delete(key);
      else if (entry && entry.count >= limit) {
        res.setHeader('Retry-After', String(Math.max(1, Math.ceil((entry.resetAt - Date.now()) / 1000))));
        next(new ApiError(429, 'too_many_requests', 'too many requests with invalid tokens; try again later'));
        return;
      }
    }
    req.authFailures = recorder;
    next();
  };
}
