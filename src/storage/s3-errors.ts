import { BackupNotFoundError, SnapkeepError, coerceError } from '../errors.js';

/** What translateS3Error needs to know about the failed request. */
export interface S3ErrorContext {
  bucket: string;
  /** The object the request was about; a bare 404 on it means the object is missing. */
  name?: string;
}

/** The parts of an SDK error (S3ServiceException, or a Node network error the SDK rethrew) we read. */
interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const AUTH_CODES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'Forbidden']);
const REGION_CODES = new Set(['AuthorizationHeaderMalformed', 'PermanentRedirect', 'IllegalLocationConstraintException']);
const BUSY_CODES = new Set(['SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'TooManyRequests']);
const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/**
 * translateS3Error is the one place an S3 failure becomes a snapkeep error: missing objects become
 * BackupNotFoundError, refused credentials and missing buckets are final, outages are retryable.
 * Messages name the setting to check and never carry a key or the endpoint's host (health and job
 * results show them); the SDK's own error stays as the cause, for logs.
 */
export function translateS3Error(thrown: unknown, context: S3ErrorContext): Error {
  if (thrown instanceof SnapkeepError) return thrown;
  const error = coerceError(thrown);
  const { name = '', code = '', $metadata } = thrown as SdkErrorShape;
  const status = $metadata?.httpStatusCode;
  const cause = { cause: error };

  if (name === 'AbortError') return error;
  const networkReason = NETWORK_REASONS[code] ?? (name === 'TimeoutError' ? 'timed out' : undefined);
  if (networkReason) {
    return new SnapkeepError('store_unavailable', `the S3 store is unreachable: ${networkReason}`, { retryable: true, ...cause });
  }
  // Anything else without an S3 answer (status) or the SDK's mark ($metadata) is not an S3 failure.
  if (status === undefined && $metadata === undefined) return error;

  // HEAD answers carry no body: a 404 there has no S3 code, and the SDK names it NotFound.
  const bare404 = status === 404 && !name.startsWith('NoSuch');
  if (name === 'NoSuchKey' || (bare404 && context.name !== undefined)) {
    return new BackupNotFoundError(context.name ?? '(unknown)');
  }
  if (name === 'NoSuchBucket' || bare404) {
    return new SnapkeepError('store_bucket_missing', `bucket "${context.bucket}" does not exist (check BACKUP_S3_BUCKET)`, cause);
  }
  // A 403 too, but new keys would not help.
  if (name === 'RequestTimeTooSkewed') {
    return new SnapkeepError('store_auth_failed', "the S3 store refused the request: this machine's clock is more than 15 minutes off", cause);
  }
  if (AUTH_CODES.has(name) || status === 401 || status === 403) {
    return new SnapkeepError('store_auth_failed', 'the S3 store refused the credentials (check BACKUP_S3_ACCESS_KEY and BACKUP_S3_SECRET_KEY)', cause);
  }
  if (REGION_CODES.has(name) || status === 301) {
    return new SnapkeepError('invalid_config', 'the S3 store expects another region or endpoint (check BACKUP_S3_REGION and BACKUP_S3_ENDPOINT)', cause);
  }
  const answer = [status === undefined ? '' : `HTTP ${status}`, name === 'Error' ? '' : name, code].filter(Boolean).join(' ');
  if (BUSY_CODES.has(name) || status === 429 || (status !== undefined && status >= 500) || status === undefined) {
    return new SnapkeepError('store_unavailable', `the S3 store is unreachable: ${answer || 'no answer'}`, { retryable: true, ...cause });
  }
  return new SnapkeepError('internal', `the S3 store rejected the request (${answer})`, cause);
}
