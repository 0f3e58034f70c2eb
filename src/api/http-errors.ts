import type { ErrorRequestHandler } from 'express';
import { SnapkeepError, type ErrorCode } from '../errors.js';
import type { Logger } from '../logging/create-logger.js';

/** ApiError is an error answer the API gives on purpose: a status, a code and a message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The one table from error codes to HTTP statuses. */
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  backup_not_found: 404,
  invalid_backup_id: 400,
  backups_disabled: 503,
  restore_exists: 409,
  not_flagged: 409,
  source_not_found: 404,
  source_required: 400,
  store_auth_failed: 502,
  store_bucket_missing: 502,
  store_unavailable: 503,
  listing_incomplete: 503,
  invalid_config: 500,
};

/** Body-parser's own error types, which arrive with a status we trust. */
const BODY_ERRORS: Record<string, [number, string, string]> = {
  'entity.parse.failed': [400, 'invalid_json', 'the request body is not valid JSON'],
  'entity.too.large': [413, 'body_too_large', 'the request body is too large'],
  'encoding.unsupported': [415, 'unsupported_encoding', 'the request body encoding is not supported'],
  'charset.unsupported': [415, 'unsupported_charset', 'the request body charset is not supported'],
  'request.aborted': [400, 'request_aborted', 'the request was aborted'],
};

/**
 * isRedisUnavailable recognises ioredis refusing a command because Redis is unreachable: the API's
 * fail-fast client (no offline queue) or a client that ran out of retries. That is a 503, not a bug.
 */
function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'MaxRetriesPerRequestError'
    || err.message.startsWith("Stream isn't writeable")
    || err.message === 'Connection is closed.';
}

/** errorHandler answers every error as `{error: {code, message}}`; only the unexpected is a 500, and it is logged. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    let status = 500;
    let code = 'internal';
    let message = 'internal error';
    const bodyError = typeof err === 'object' && err !== null && 'type' in err ? BODY_ERRORS[String((err as { type: unknown }).type)] : undefined;
    if (err instanceof ApiError) {
      ({ status, code, message } = err);
      for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
    } else if (err instanceof SnapkeepError) {
      status = STATUS_BY_CODE[err.code] ?? 500;
      code = err.code;
      message = err.message;
    } else if (isRedisUnavailable(err)) {
      [status, code, message] = [503, 'queue_unavailable', 'the job queue (Redis) is unreachable; try again shortly'];
    } else if (bodyError) {
      [status, code, message] = bodyError;
    } else if (typeof err === 'object' && err !== null && (err as { status?: number }).status === 400) {
      // Express itself rejects some malformed requests (bad URL encoding in a path) with a 400.
      [status, code, message] = [400, 'bad_request', 'the request is malformed'];
    }
    if (status >= 500) logger.error('request failed', { code, error: err instanceof Error ? err.message : String(err) });
    if (res.headersSent) return;
    res.status(status).json({ error: { code, message } });
  };
}

/** notFound answers any route the API does not have. */
export const notFoundError = (): ApiError => new ApiError(404, 'not_found', 'no such endpoint');
