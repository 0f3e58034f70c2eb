import { createHash } from 'node:crypto';
import type { NotifyConfig } from '../config/config.js';
import { describeUrl } from './redact-secrets.js';

/** HEALTHCHECKS_TARGET is the target id of NOTIFY_HEALTHCHECKS_URL. */
export const HEALTHCHECKS_TARGET = 'healthchecks';

/**
 * WebhookTarget is one of NOTIFY_WEBHOOK_URLS. Jobs name it by `id`, a hash of the URL: the URL
 * itself (which may carry credentials or a secret path) never goes into Redis, and a worker whose
 * settings no longer list it drops the job instead of sending elsewhere.
 */
export interface WebhookTarget {
  id: string;
  url: string;
  /** Scheme, host and port, for logs and `notify test`. */
  description: string;
}

/** webhookTargetId is `webhook-` and the first 12 hex digits of the URL's SHA-256. */
export const webhookTargetId = (url: string): string => `webhook-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;

/** webhookTargets lists the configured webhooks, in the order of the setting. */
export function webhookTargets(notify: NotifyConfig): WebhookTarget[] {
  return notify.webhookUrls.map((url) => ({ id: webhookTargetId(url), url, description: describeUrl(url) }));
}

/** findWebhook is the webhook a job names, or undefined when these settings do not list it. */
export function findWebhook(notify: NotifyConfig, id: string): WebhookTarget | undefined {
  return webhookTargets(notify).find((t) => t.id === id);
}
