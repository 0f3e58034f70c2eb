import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
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
 * limitFailedAuth slows token guessing: each client gets a budget of rejected tokens per window;
 * requests with a valid token do not spend it.
 */
export function limitFailedAuth(options: { windowMs?: number; limit?: number } = {}): RequestHandler {
  return rateLimit({
    windowMs: options.windowMs ?? 60_000,
    limit: options.limit ?? 30,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    handler: (_req, _res, next) => next(new ApiError(429, 'too_many_requests', 'too many requests with invalid tokens; try again later')),
  });
}
