import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3rverContext } from 's3rver';

// s3rver 3.7 falls short of S3 in three ways that matter to snapkeep's tests; these Koa middlewares
// close the gaps, on top of s3rver's own storage.

/**
 * verifySignature checks AWS Signature Version 4 headers: s3rver only checks that the access key
 * exists ("V4 signature calculation is unimplemented"), so a wrong secret key would pass.
 */
export function verifySignature(ctx: S3rverContext, secrets: Record<string, string>): boolean {
  const authorization = ctx.headers.authorization;
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization ?? '');
  if (!match) return true; // unsigned or another scheme: s3rver's own checks apply
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaders = '', signature = ''] = match;
  const secret = secrets[accessKeyId];
  if (secret === undefined) return true; // s3rver answers InvalidAccessKeyId itself
  const header = (name: string): string => {
    const value = ctx.headers[name];
    return (Array.isArray(value) ? value.join(',') : value ?? '').trim().replace(/\s+/g, ' ');
  };
  const canonicalQuery = ctx.querystring.split('&').filter(Boolean)
    .map((pair) => pair.split('=').map((part) => encodeRfc3986(decodeURIComponent(part.replace(/\+/g, ' ')))))
    .map(([key = '', value = '']) => [key, value] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const names = signedHeaders.split(';');
  const canonicalRequest = [
    ctx.method,
    ctx.path,
    canonicalQuery,
    names.map((name) => `${name}:${header(name)}\n`).join(''),
    signedHeaders,
    header('x-amz-content-sha256'),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', header('x-amz-date'), scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of [date, region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const expected = createHmac('sha256', key).update(stringToSign).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/** answerSignatureMismatch writes S3's answer to a request signed with the wrong secret key. */
export function answerSignatureMismatch(ctx: S3rverContext): void {
  answerError(ctx, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
}

/**
 * answerMultipartUploads serves ListMultipartUploads and AbortMultipartUpload, which s3rver lacks
 * (it answers NotImplemented and MethodNotAllowed), from s3rver's own upload directories; false
 * when the request is neither.
 */
export async function answerMultipartUploads(directory: string, ctx: S3rverContext): Promise<boolean> {
  // The SDK addresses the bucket itself as `/bucket/`, an object as `/bucket/key`.
  const [bucket = '', ...keyParts] = ctx.path.slice(1).split('/');
  const key = keyParts.join('/');
  const uploadsDir = join(directory, bucket, '._S3rver_uploads');
  if (ctx.method === 'GET' && key === '' && 'uploads' in ctx.query) {
    const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
    const uploads: string[] = [];
    for (const id of await readdir(uploadsDir).catch(() => [] as string[])) {
      const uploadKey = await readFile(join(uploadsDir, id, 'key'), 'utf8').catch(() => undefined);
      if (uploadKey === undefined || !uploadKey.startsWith(prefix)) continue;
      const initiated = (await stat(join(uploadsDir, id))).mtime.toISOString();
      uploads.push(`<Upload><Key>${escapeXml(uploadKey)}</Key><UploadId>${escapeXml(id)}</UploadId><Initiated>${initiated}</Initiated></Upload>`);
    }
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
      + `<Bucket>${escapeXml(bucket)}</Bucket><Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>1000</MaxUploads>`
      + `<IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`;
    return true;
  }
  const uploadId = ctx.query.uploadId;
  if (ctx.method === 'DELETE' && key !== '' && typeof uploadId === 'string') {
    const uploadDir = join(uploadsDir, uploadId);
    if (/[/\\]|^\.\.?$/.test(uploadId) || !(await stat(uploadDir).catch(() => undefined))) {
      answerError(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
    } else {
      await rm(uploadDir, { recursive: true, force: true });
      ctx.status = 204;
    }
    return true;
  }
  return false;
}

interface ListBucketResult {
  Contents?: Array<{ Key: string }>;
  IsTruncated?: boolean;
  NextContinuationToken?: string;
  ContinuationToken?: string;
  StartAfter?: string;
  KeyCount?: number;
  MaxKeys?: number | string;
}

/**
 * pageListings makes ListObjectsV2 pages with plain-text continuation tokens: s3rver encrypts its
 * tokens with DES, which Node 20's OpenSSL 3 no longer has, so every truncated page is an HTTP 500.
 * It asks s3rver for up to 1000 keys and cuts the page itself (more than 1000 keys still fail).
 * It must run just before s3rver's router, where the answer is still an object, not XML.
 */
export async function pageListings(ctx: S3rverContext, next: () => Promise<void>): Promise<void> {
  if (ctx.method !== 'GET' || ctx.query['list-type'] !== '2') return next();
  const requested = Math.min(Number(ctx.query['max-keys'] ?? 1000), 1000);
  const token = ctx.query['continuation-token'];
  const query: S3rverContext['query'] = { ...ctx.query, 'max-keys': '1000' };
  delete query['continuation-token'];
  if (typeof token === 'string') query['start-after'] = Buffer.from(token, 'base64url').toString();
  ctx.query = query;
  await next();
  const result = (ctx.body as { ListBucketResult?: ListBucketResult } | undefined)?.ListBucketResult;
  if (!result) return;
  result.MaxKeys = requested;
  if (typeof token === 'string') {
    result.ContinuationToken = token;
    delete result.StartAfter;
  }
  const contents = result.Contents ?? [];
  if (contents.length > requested) {
    result.Contents = contents.slice(0, requested);
    result.IsTruncated = true;
    result.KeyCount = requested;
    result.NextContinuationToken = Buffer.from(contents[requested - 1]!.Key).toString('base64url');
  }
}

function answerError(ctx: S3rverContext, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
}

function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
