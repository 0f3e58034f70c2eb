import { createHmac } from 'node:crypto';
import { SnapkeepError } from '../errors.js';
import { VERSION } from '../version.js';
import type { NotificationEvent } from './notification-event.js';
import { describeUrl } from './redact-secrets.js';

/**
 * HealthchecksPing is which healthchecks.io signal a ping sends: `/start`, success (the bare URL),
 * `/fail`, or `/log` (an event that changes nothing: `snapkeep notify test`).
 */
export type HealthchecksPing = 'start' | 'success' | 'fail' | 'log';

/** DELIVERY_TIMEOUT_MS is how long one delivery may take before it counts as failed (and is retried). */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** DeliveryOptions bound one HTTP request. */
export interface DeliveryOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** DeliveryAnswer is what a receiver answered. */
export interface DeliveryAnswer {
  status: number;
}

/** signatureOf is the `X-Snapkeep-Signature` header value: `sha256=` and the hex HMAC-SHA256 of the body. */
export const signatureOf = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;

/**
 * postWebhook POSTs one event as JSON, signed when a secret is set. A 2xx answer resolves; anything
 * else throws a SnapkeepError that says whether another attempt may help (5xx, 408, 429, a network
 * error or timeout: yes; another 4xx: no). Messages name the receiver by origin only.
 */
export async function postWebhook(url: string, event: NotificationEvent, secret: string | undefined, options: DeliveryOptions = {}): Promise<DeliveryAnswer> {
  const body = JSON.stringify(event);
  return send(url, body, {
    'content-type': 'application/json',
    'x-snapkeep-event': event.event,
    ...(secret !== undefined ? { 'x-snapkeep-signature': signatureOf(secret, body) } : {}),
  }, options);
}

/** pingHealthchecks sends one healthchecks.io-style ping: `{url}/start`, `{url}`, `{url}/fail` or `{url}/log`. */
export async function pingHealthchecks(url: string, ping: HealthchecksPing, message: string, options: DeliveryOptions = {}): Promise<DeliveryAnswer> {
  const target = ping === 'success' ? url : `${url}/${ping}`;
  return send(target, message, { 'content-type': 'text/plain; charset=utf-8' }, options);
}

async function send(rawUrl: string, body: string, headers: Record<string, string>, options: DeliveryOptions): Promise<DeliveryAnswer> {
  const { url, authorization } = splitCredentials(rawUrl);
  const who = describeUrl(rawUrl);
  const signals = [AbortSignal.timeout(options.timeoutMs ?? DELIVERY_TIMEOUT_MS), ...(options.signal ? [options.signal] : [])];
  let status: number;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'user-agent': `snapkeep/${VERSION}`, ...headers, ...(authorization ? { authorization } : {}) },
      body,
      redirect: 'error',
      signal: AbortSignal.any(signals),
    });
    status = res.status;
    // The answer's body is of no use: read it away so the connection can be reused.
    await res.body?.cancel().catch(() => undefined);
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    const cause = timedOut ? 'no answer in time' : networkCause(error);
    throw new SnapkeepError('notify_failed', `notification to ${who} failed: ${cause}`, { retryable: true });
  }
  if (status >= 200 && status < 300) return { status };
  const retryable = status >= 500 || status === 408 || status === 429;
  throw new SnapkeepError('notify_failed', `notification to ${who} was answered ${status}`, { retryable });
}

/**
 * splitCredentials moves `user:password@` from a URL into a Basic Authorization header: fetch
 * refuses URLs with credentials, and a URL with them must never reach a log or an error message.
 */
function splitCredentials(raw: string): { url: string; authorization?: string } {
  const url = new URL(raw);
  if (url.username === '' && url.password === '') return { url: url.href };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { url: url.href, authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** networkCause is a network error's code (ECONNREFUSED, ENOTFOUND…), never its message, which may name the URL. */
function networkCause(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : 'network error';
}
