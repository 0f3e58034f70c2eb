import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { signatureOf } from '../../src/notify/deliver.js';
import { newNotification } from '../../src/notify/notification-event.js';
import { webhookTargetId, webhookTargets } from '../../src/notify/notify-targets.js';
import { describeUrl } from '../../src/notify/redact-secrets.js';
import { validateJobData } from '../../src/queue/job-schemas.js';

const MASTER = randomBytes(32).toString('hex');
const env = {
  BACKUP_LOCAL_DIR: '/tmp/snapkeep-unit-store', MASTER_KEY: MASTER, NOTIFY_WEBHOOK_SECRET: 'the-webhook-secret',
  NOTIFY_WEBHOOK_URLS: 'https://ops:hunter2-password@hooks.example.com/services/T000/B000/XXXXSECRETPATH, http://127.0.0.1:9/hook',
  NOTIFY_HEALTHCHECKS_URL: 'https://hc-ping.com/5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278/',
};

describe('notification settings', () => {
  it('reads URLs, secret, flags and schedules', () => {
    const config = loadConfig(env);
    expect(config.notify).toEqual({
      webhookUrls: [env.NOTIFY_WEBHOOK_URLS.split(',')[0], 'http://127.0.0.1:9/hook'], webhookSecret: 'the-webhook-secret', onSuccess: false,
      healthchecksUrl: 'https://hc-ping.com/5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278',
    });
    expect(config.verifySchedule).toEqual({ type: 'every', everyMs: 168 * 3_600_000 });
    expect(config.anomalyShrinkPercent).toBe(50);
    expect(loadConfig({ ...env, BACKUP_VERIFY_SCHEDULE_HOURS: '0', ANOMALY_SHRINK_PERCENT: '30', NOTIFY_ON_SUCCESS: 'true' }))
      .toMatchObject({ verifySchedule: { type: 'off' }, anomalyShrinkPercent: 30, notify: { onSuccess: true } });
  });

  it('names a bad URL by its position, never its text, with the other problems at once', () => {
    let message = '';
    try {
      loadConfig({ ...env, NOTIFY_WEBHOOK_URLS: 'https://ok.example.com/a,ftp://user:topsecret@files.example.com/x', NOTIFY_HEALTHCHECKS_URL: 'not a url secretkey', ANOMALY_SHRINK_PERCENT: '150', BACKUP_VERIFY_SCHEDULE_HOURS: '-1' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n').sort()).toEqual([
      'ANOMALY_SHRINK_PERCENT: must be less than or equal to 100',
      'BACKUP_VERIFY_SCHEDULE_HOURS: must be greater than or equal to 0',
      'NOTIFY_HEALTHCHECKS_URL: is not an http(s) URL',
      'NOTIFY_WEBHOOK_URLS: entry 2 is not an http(s) URL',
    ]);
    expect(message).not.toContain('topsecret');
    expect(message).not.toContain('secretkey');
  });
});

describe('notification events', () => {
  it('carry no secret the settings hold, whatever a message says', () => {
    const config = loadConfig(env);
    const leaky = `failed with key ${MASTER} ${MASTER.toUpperCase()} at ${env.NOTIFY_WEBHOOK_URLS.split(',')[0]} (hunter2-password, the-webhook-secret, /services/T000/B000/XXXXSECRETPATH, 5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278)`;
    const event = newNotification(config, { event: 'backup.failed', jobId: 'backup-1', message: leaky, details: { nested: [leaky], n: 3 } }, new Date('2026-01-01T00:00:00Z'));
    const text = JSON.stringify(event);
    for (const secret of [MASTER, MASTER.toUpperCase(), 'hunter2-password', 'the-webhook-secret', 'XXXXSECRETPATH', '5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278']) expect(text).not.toContain(secret);
    expect(event).toMatchObject({ event: 'backup.failed', at: '2026-01-01T00:00:00.000Z', jobId: 'backup-1', details: { n: 3 } });
    expect(event.message).toContain('[redacted]');
    // The event a job carries passes the notify queue's schema.
    const target = webhookTargets(config.notify)[0]!;
    expect(validateJobData('notify', { target: target.id, notification: event })).toBeTruthy();
  });

  it('are signed as GitHub and Stripe sign theirs: sha256= and the hex HMAC of the exact body', () => {
    const body = '{"event":"notify.test"}';
    expect(signatureOf('s3cr3t', body)).toBe(`sha256=${createHmac('sha256', 's3cr3t').update(body).digest('hex')}`);
  });

  it('name webhooks by a hash and receivers by origin only', () => {
    const config = loadConfig(env);
    const [slack, local] = webhookTargets(config.notify);
    expect(slack).toMatchObject({ id: webhookTargetId(slack!.url), description: 'https://hooks.example.com' });
    expect(slack!.id).toMatch(/^webhook-[0-9a-f]{12}$/);
    expect(local!.description).toBe('http://127.0.0.1:9');
    expect(describeUrl('not a url')).toBe('an invalid URL');
  });
});
