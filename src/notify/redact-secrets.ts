import type { Config } from '../config/config.js';

const REDACTED = '[redacted]';

/**
 * redactSecrets returns a function that replaces every secret the settings hold with `[redacted]`:
 * the master keys (hex, either case), the S3 secret key, the webhook secret, and the credentials,
 * paths and queries of the notification URLs (a healthchecks ping key is its path). Defence in
 * depth: no message should carry one, but an error message from a library might.
 */
export function redactSecrets(config: Config): (text: string) => string {
  const secrets = new Set<string>();
  for (const key of [config.masterKey, ...config.previousMasterKeys]) {
    if (!key) continue;
    secrets.add(key.toString('hex'));
    secrets.add(key.toString('hex').toUpperCase());
  }
  if (config.store?.type === 's3') secrets.add(config.store.secretAccessKey);
  if (config.notify.webhookSecret) secrets.add(config.notify.webhookSecret);
  for (const url of [...config.notify.webhookUrls, config.notify.healthchecksUrl, config.redisUrl]) {
    for (const part of urlSecrets(url)) secrets.add(part);
  }
  // Longest first, so a URL goes whole before the credentials inside it.
  const ordered = [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => ordered.reduce((out, secret) => out.split(secret).join(REDACTED), text);
}

// A path, or a path segment, this long is taken for a token (a healthchecks ping key, a chat
// webhook's secret path); a shorter one (`/hook`) would redact ordinary words from messages.
const SECRET_PATH_LENGTH = 12;

/** urlSecrets are the parts of a URL that may hold a secret: the whole URL, its password, query, and long paths and path segments. */
function urlSecrets(value: string | undefined): string[] {
  if (!value) return [];
  try {
    const url = new URL(value);
    const path = [url.pathname, ...url.pathname.split('/')].filter((part) => part.length >= SECRET_PATH_LENGTH);
    return [value, url.href, decodeURIComponent(url.password), url.password, url.search, ...path].filter((s) => s !== '');
  } catch {
    return [value];
  }
}

/** describeUrl names a URL for logs and reports: scheme, host and port only, never credentials, path or query. */
export function describeUrl(value: string): string {
  try {
    return new URL(value).origin;
  } catch {
    return 'an invalid URL';
  }
}
