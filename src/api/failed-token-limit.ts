import type { Request } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { Logger } from '../logging/create-logger.js';

/** FailedTokenVerdict is what a failed token earns its client: a plain refusal, or 429 until the window ends. */
export type FailedTokenVerdict = { limited: false } | { limited: true; retryAfterSeconds: number };

/**
 * FailedTokenLimit counts, per client, the tokens presented that were not valid, and says when a
 * client is over its budget. It is told only about those: a request with no credentials tried
 * nothing (a browser asks for the dashboard's files before it sends the password) and a valid
 * token is never refused, whatever else came from the same address (a NAT, a proxy).
 */
export interface FailedTokenLimit {
  failed(req: Request): FailedTokenVerdict;
}

export interface FailedTokenLimitOptions {
  windowMs?: number;
  limit?: number;
  /** Where failures are logged (warn): each one until the budget is spent, then one line per window. */
  logger?: Logger;
}

// Clients remembered at most; past it the oldest entries go first (an attacker with many addresses).
const MAX_TRACKED_CLIENTS = 100_000;

/**
 * failedTokenLimit gives each client (its IP address; an IPv6 /56 counts as one) a budget of
 * failed tokens per window; past it, its failed tokens are answered 429 until the window ends.
 * A guess is still checked when over budget, and a right one admitted: tokens are 32 random bytes,
 * so the limit is there to slow and flag a guesser, never to cost an operator their access.
 */
export function failedTokenLimit(options: FailedTokenLimitOptions = {}): FailedTokenLimit {
  const windowMs = options.windowMs ?? 60_000;
  const limit = options.limit ?? 30;
  const failures = new Map<string, { count: number; resetAt: number }>();
  const clientKey = (req: Request): string => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');

  const count = (key: string, now: number): { count: number; resetAt: number } => {
    const entry = failures.get(key);
    if (entry && entry.resetAt > now) {
      entry.count++;
      return entry;
    }
    failures.delete(key);
    if (failures.size >= MAX_TRACKED_CLIENTS) {
      for (const [k, e] of failures) if (e.resetAt <= now) failures.delete(k);
      while (failures.size >= MAX_TRACKED_CLIENTS) failures.delete(failures.keys().next().value!);
    }
    const fresh = { count: 1, resetAt: now + windowMs };
    failures.set(key, fresh);
    return fresh;
  };

  return {
    failed(req) {
      const now = Date.now();
      const client = clientKey(req);
      const entry = count(client, now);
      const path = req.originalUrl.split('?', 1)[0];
      // Never the token: only who tried, where, and how often.
      if (entry.count <= limit) options.logger?.warn('invalid token', { client, path, failures: entry.count });
      if (entry.count === limit + 1) options.logger?.warn('client over the failed-token limit: its invalid tokens get 429 until the window ends', { client, path, windowMs });
      if (entry.count <= limit) return { limited: false };
      return { limited: true, retryAfterSeconds: Math.max(1, Math.ceil((entry.resetAt - now) / 1000)) };
    },
  };
}
