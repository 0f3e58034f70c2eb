import type { RequestHandler } from 'express';
import type { Logger } from '../logging/create-logger.js';

/**
 * requestLog is a debug-level access log: method, path, status, duration and the token's name.
 * Never headers (Authorization holds the token) and never the query string (a client may put a
 * secret there by mistake).
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (!logger.isDebugEnabled()) { next(); return; }
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logger.debug('request', {
        method: req.method,
        path: req.originalUrl.split('?', 1)[0],
        status: res.statusCode,
        ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        ...(req.token ? { token: req.token.name } : {}),
      });
    });
    next();
  };
}
