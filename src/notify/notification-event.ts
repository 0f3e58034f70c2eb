import { hostname } from 'node:os';
import type { Config } from '../config/config.js';
import { redactSecrets } from './redact-secrets.js';

/** NOTIFICATION_EVENTS are the events a webhook receives (`notify.test` only from `snapkeep notify test`). */
export const NOTIFICATION_EVENTS = [
  'backup.failed', 'backup.succeeded', 'backup.anomaly', 'verify.failed', 'schedule.missed', 'prune.deleted', 'notify.test',
] as const;
export type NotificationEventName = (typeof NOTIFICATION_EVENTS)[number];

/**
 * NotificationEvent is the JSON body of every webhook POST. It travels through Redis in job data,
 * so it holds nothing secret: it is built by newNotification, which redacts every configured secret.
 */
export interface NotificationEvent {
  event: NotificationEventName;
  /** When it happened (ISO time). */
  at: string;
  /** The host that sent it (os.hostname()). */
  host: string;
  backupId?: string;
  jobId?: string;
  /** One line for people. */
  message: string;
  /** What a receiver may act on: counts, checks, reasons; never a secret. */
  details: Record<string, unknown>;
}

/** NewNotification is what a caller says; newNotification adds the time and host. */
export type NewNotification = Omit<NotificationEvent, 'at' | 'host' | 'details'> & { details?: Record<string, unknown> };

/**
 * newNotification builds an event with every secret the settings hold (master keys, S3 secret key,
 * webhook secret, URL credentials) replaced by `[redacted]` in its message and details: error
 * messages are copied into notifications, and none of them may carry a secret to a receiver.
 */
export function newNotification(config: Config, what: NewNotification, now: Date = new Date()): NotificationEvent {
  const redact = redactSecrets(config);
  return {
    event: what.event,
    at: now.toISOString(),
    host: hostname(),
    ...(what.backupId !== undefined ? { backupId: what.backupId } : {}),
    ...(what.jobId !== undefined ? { jobId: redact(what.jobId) } : {}),
    message: redact(what.message).slice(0, 2000),
    details: redactValue(what.details ?? {}, redact) as Record<string, unknown>,
  };
}

function redactValue(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, redact));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, redact)]));
  }
  return value;
}
