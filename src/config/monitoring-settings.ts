import Joi from 'joi';
import type { NotifyConfig, ScheduleConfig } from './config.js';

/**
 * The settings of issue 16: notifications, restore drills and the anomaly guardrail. Kept apart
 * from load-config.ts, which spreads MONITORING_SCHEMA into its schema and calls
 * readMonitoringSettings with the validated values. URLs may carry credentials (a webhook's
 * user:password, a healthchecks ping key in its path): no message here ever repeats one.
 */
export const MONITORING_SCHEMA = {
  NOTIFY_WEBHOOK_URLS: Joi.string().allow(''),
  NOTIFY_WEBHOOK_SECRET: Joi.string().allow(''),
  NOTIFY_ON_SUCCESS: Joi.boolean().truthy('1', 'yes').falsy('0', 'no').default(false),
  NOTIFY_HEALTHCHECKS_URL: Joi.string().allow(''),
  BACKUP_VERIFY_SCHEDULE_HOURS: Joi.number().min(0).max(24 * 366).default(168),
  // 0 turns the guardrail off; 100 still flags a table that disappeared.
  ANOMALY_SHRINK_PERCENT: Joi.number().min(0).max(100).default(50),
} as const;

/** MonitoringSettings are the parts of Config these settings fill. */
export interface MonitoringSettings {
  notify: NotifyConfig;
  verifySchedule: ScheduleConfig;
  anomalyShrinkPercent: number;
}

/**
 * readMonitoringSettings turns validated values into settings, adding a line to problems for each
 * URL that is not http(s) (by its position, never its text).
 */
export function readMonitoringSettings(values: Record<string, unknown>, problems: string[]): MonitoringSettings {
  const text = (name: string): string => String(values[name] ?? '').trim();
  const webhookUrls = text('NOTIFY_WEBHOOK_URLS').split(',').map((s) => s.trim()).filter((s) => s !== '');
  webhookUrls.forEach((url, i) => {
    if (!isHttpUrl(url)) problems.push(`NOTIFY_WEBHOOK_URLS: entry ${i + 1} is not an http(s) URL`);
  });
  const healthchecksUrl = text('NOTIFY_HEALTHCHECKS_URL');
  if (healthchecksUrl !== '' && !isHttpUrl(healthchecksUrl)) problems.push('NOTIFY_HEALTHCHECKS_URL: is not an http(s) URL');
  const secret = text('NOTIFY_WEBHOOK_SECRET');
  const hours = Number(values.BACKUP_VERIFY_SCHEDULE_HOURS ?? 168);
  return {
    notify: {
      webhookUrls,
      webhookSecret: secret === '' ? undefined : secret,
      onSuccess: values.NOTIFY_ON_SUCCESS === true,
      healthchecksUrl: healthchecksUrl === '' ? undefined : healthchecksUrl.replace(/\/+$/, ''),
    },
    verifySchedule: hours > 0 ? { type: 'every', everyMs: Math.max(1, Math.round(hours * 3_600_000)) } : { type: 'off' },
    anomalyShrinkPercent: Number(values.ANOMALY_SHRINK_PERCENT ?? 50),
  };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
