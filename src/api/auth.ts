import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Role, TokenInfo, TokenStore } from '../auth/token-store.js';
import type { FailedTokenLimit } from './failed-token-limit.js';
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

/** RequireTokenOptions: the scheme to read, and the limit that failed tokens count against. */
export interface RequireTokenOptions {
  scheme?: 'Bearer' | 'Basic';
  failedTokens?: FailedTokenLimit;
}

/**
 * requireToken admits a request whose token has one of the roles: a valid token always, whatever
 * other requests from its address did. No credentials: 401 with a challenge, counted nowhere (a
 * browser's first request for the dashboard carries none). A token that is not valid: 401, counted
 * against its client, and 429 once the client is over its budget. Known but wrong role: 403.
 */
export function requireToken(tokens: TokenStore, roles: readonly Role[], options: RequireTokenOptions = {}): RequestHandler {
  const scheme = options.scheme ?? 'Bearer';
  const challenge = scheme === 'Bearer' ? 'Bearer realm="snapkeep"' : 'Basic realm="snapkeep", charset="UTF-8"';
  return (req: Request, _res: Response, next: NextFunction) => {
    check(req).then(next, next);
  };

  async function check(req: Request): Promise<ApiError | undefined> {
    const presented = scheme === 'Bearer' ? bearerToken(req) : basicPassword(req);
    if (presented === null) return new ApiError(401, 'unauthorized', 'a token is required', { 'WWW-Authenticate': challenge });
    const info = await tokens.verify(presented);
    if (!info) {
      const verdict = options.failedTokens?.failed(req);
      if (verdict?.limited) {
        return new ApiError(429, 'too_many_requests', 'too many requests with invalid tokens; try again later', { 'Retry-After': String(verdict.retryAfterSeconds) });
      }
      return new ApiError(401, 'unauthorized', 'the token is not valid', { 'WWW-Authenticate': challenge });
    }
    if (!roles.includes(info.role)) return new ApiError(403, 'forbidden', `this needs a ${roles.join(' or ')} token`);
    req.token = info;
    return undefined;
  }
}
