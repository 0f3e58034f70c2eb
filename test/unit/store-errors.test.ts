import { describe, expect, it } from 'vitest';
import { BackupNotFoundError, SnapkeepError } from '../../src/errors.js';
import { translateFsError } from '../../src/storage/fs-errors.js';
import { translateS3Error } from '../../src/storage/s3-errors.js';

/** sdkError is what the SDK throws for an S3 answer: name = the error code, status in $metadata. */
function sdkError(name: string, status: number | undefined): Error {
  return Object.assign(new Error(`${name} from the server`), { name, $metadata: { httpStatusCode: status, attempts: 3 } });
}

function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 10.1.2.3:9000`), { code, $metadata: { attempts: 3 } });
}

describe('translateS3Error', () => {
  const context = { bucket: 'backups-bucket', name: 'x.crbu' };

  it.each([
    ['NoSuchKey on get', sdkError('NoSuchKey', 404), context, 'backup_not_found', false],
    ['a bare 404 on head', sdkError('NotFound', 404), context, 'backup_not_found', false],
    ['NoSuchBucket', sdkError('NoSuchBucket', 404), context, 'store_bucket_missing', false],
    ['a bare 404 on head-bucket', sdkError('NotFound', 404), { bucket: 'backups-bucket' }, 'store_bucket_missing', false],
    ['InvalidAccessKeyId', sdkError('InvalidAccessKeyId', 403), context, 'store_auth_failed', false],
    ['SignatureDoesNotMatch', sdkError('SignatureDoesNotMatch', 403), context, 'store_auth_failed', false],
    ['AccessDenied', sdkError('AccessDenied', 403), context, 'store_auth_failed', false],
    ['a bare 403 on head', sdkError('Forbidden', 403), context, 'store_auth_failed', false],
    ['a skewed clock', sdkError('RequestTimeTooSkewed', 403), context, 'store_auth_failed', false],
    ['a wrong region', sdkError('AuthorizationHeaderMalformed', 400), context, 'invalid_config', false],
    ['SlowDown', sdkError('SlowDown', 503), context, 'store_unavailable', true],
    ['InternalError', sdkError('InternalError', 500), context, 'store_unavailable', true],
    ['a 502 from a proxy', sdkError('Unknown', 502), context, 'store_unavailable', true],
    ['ECONNREFUSED', networkError('ECONNREFUSED'), context, 'store_unavailable', true],
    ['ECONNRESET', networkError('ECONNRESET'), context, 'store_unavailable', true],
    ['ENOTFOUND', networkError('ENOTFOUND'), context, 'store_unavailable', true],
    ['a socket timeout', Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }), context, 'store_unavailable', true],
    ['another 4xx', sdkError('EntityTooLarge', 400), context, 'internal', false],
    ['an upload aborted elsewhere', sdkError('NoSuchUpload', 404), context, 'internal', false],
  ] as const)('%s', (_label, thrown, ctx, code, retryable) => {
    const error = translateS3Error(thrown, ctx);
    expect(error).toBeInstanceOf(SnapkeepError);
    expect(error).toMatchObject({ code, retryable });
    // The endpoint's host never reaches a message (health and job results show them).
    expect(error.message).not.toContain('10.1.2.3');
  });

  it('names the missing object and the missing bucket', () => {
    expect(translateS3Error(sdkError('NoSuchKey', 404), context)).toEqual(new BackupNotFoundError('x.crbu'));
    expect(translateS3Error(sdkError('NoSuchBucket', 404), context).message).toBe('bucket "backups-bucket" does not exist (check BACKUP_S3_BUCKET)');
  });

  it('keeps the SDK error as the cause and passes other errors through', () => {
    const thrown = sdkError('SlowDown', 503);
    expect(translateS3Error(thrown, context).cause).toBe(thrown);
    const own = new SnapkeepError('snapshot_failed', 'x');
    expect(translateS3Error(own, context)).toBe(own);
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(translateS3Error(abort, context)).toBe(abort);
    const plain = new Error('a bug');
    expect(translateS3Error(plain, context)).toBe(plain);
  });
});

describe('translateFsError', () => {
  const fsError = (code: string): Error => Object.assign(new Error(`${code}: something`), { code });

  it.each([
    ['ENOENT on an object', fsError('ENOENT'), 'x.crbu', 'backup_not_found', false],
    ['ENOENT on the directory', fsError('ENOENT'), undefined, 'store_unavailable', false],
    ['ENOSPC', fsError('ENOSPC'), undefined, 'no_space', false],
    ['EACCES', fsError('EACCES'), undefined, 'store_unavailable', false],
    ['EROFS', fsError('EROFS'), undefined, 'store_unavailable', false],
    ['EIO', fsError('EIO'), undefined, 'store_unavailable', true],
  ] as const)('%s', (_label, thrown, name, code, retryable) => {
    const error = translateFsError(thrown, name === undefined ? { dir: '/backups' } : { dir: '/backups', name });
    expect(error).toMatchObject({ code, retryable });
  });

  it('passes stream errors through', () => {
    const premature = Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(translateFsError(premature, { dir: '/backups' })).toBe(premature);
  });
});
