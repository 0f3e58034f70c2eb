import { postWebhook, pingHealthchecks } from '../../src/notify/deliver.js';
import { findWebhook, HEALTHCHECKS_TARGET } from '../../src/notify/notify-targets.js';
import { describeUrl } from '../../src/notify/redact-secrets.js';
import { SnapkeepError } from '../../src/errors.js';
import type { NotifyJobData, NotifyResult } from '../../src/queue/job-types.js';
import type { JobFunction } from '../runtime/bullmq-processor.js';

/** NotifyOptions tune deliveries: tests shorten the timeout. */
export interface NotifyOptions {
  timeoutMs?: number;
}

/**
 * notifyJob is the `notify` job: one delivery to one target, read from this process's settings (a
 * job names a webhook by id, never by URL). A receiver that is down, slow (past the timeout) or
 * answers 5xx fails the attempt and BullMQ retries it with backoff; a 4xx or a target these
 * settings do not list fails at once. Logs name a receiver by origin only.
 */
export function notifyJob(options: NotifyOptions = {}): JobFunction<NotifyJobData, NotifyResult> {
  return async (data, ctx) => {
    const notify = ctx.config.notify;
    const delivery = { ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) };
    if ('ping' in data) {
      if (data.target !== HEALTHCHECKS_TARGET || !notify.healthchecksUrl) throw gone('NOTIFY_HEALTHCHECKS_URL is not set here');
      const answer = await pingHealthchecks(notify.healthchecksUrl, data.ping, data.message, delivery);
      ctx.logger.info('healthchecks ping sent', { ping: data.ping, to: describeUrl(notify.healthchecksUrl), status: answer.status });
      return { target: data.target, status: answer.status };
    }
    const webhook = findWebhook(notify, data.target);
    if (!webhook) throw gone(`NOTIFY_WEBHOOK_URLS here lists no ${data.target}`);
    const answer = await postWebhook(webhook.url, data.notification, notify.webhookSecret, delivery);
    ctx.logger.info('notification sent', { event: data.notification.event, to: webhook.description, status: answer.status });
    return { target: data.target, status: answer.status };
  };
}

const gone = (why: string): SnapkeepError => new SnapkeepError('notify_failed', `notification dropped: ${why}`);
