import { randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enqueueBackup } from '../../src/queue/enqueue.js';
import type { JobStatus } from '../../src/queue/job-status.js';
import { startInProcessWorkers, type InProcessWorkers } from '../helpers/in-process-workers.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { signatureVerifies, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const WEBHOOK_SECRET = `whsec-${randomBytes(8).toString('hex')}`;
const URL_PASSWORD = `urlpw-${randomBytes(6).toString('hex')}`;
const PING_KEY = `ping-${randomBytes(8).toString('hex')}`;
const S3_SECRET = `s3secret-${randomBytes(8).toString('hex')}`;

/**
 * Issue 16, notifications: real workers on a real Redis send to a real HTTP receiver on a loopback
 * port (webhook at /hook, with credentials in its URL; healthchecks at /hc/{ping key}). Counts and
 * order are asserted, never durations.
 */
describe('notifications', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let proxy: TcpProxy;
  let receiver: WebhookReceiver;
  let workers: InProcessWorkers | undefined;

  beforeAll(async () => {
    [redis, s3, receiver] = await Promise.all([startRedis(), startS3Server({ bucket: 'notify', secretAccessKey: S3_SECRET }), startWebhookReceiver()]);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
  });
  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    receiver.requests.length = 0;
    receiver.setMode('ok');
    if (!proxyAlive) { await proxy.revive(); proxyAlive = true; }
  });
  afterAll(async () => {
    await proxy?.close();
    await Promise.all([redis?.close(), s3?.close(), receiver?.close()]);
  });

  let proxyAlive = true;
  const hookUrl = (): string => `http://snapkeep:${URL_PASSWORD}@127.0.0.1:${new URL(receiver.url).port}/hook`;
  const start = async (env: Record<string, string> = {}, notifyTimeoutMs?: number): Promise<InProcessWorkers> => {
    workers = await startInProcessWorkers(redis.url, {
      BACKUP_S3_ENDPOINT: proxy.url, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId, BACKUP_S3_SECRET_KEY: S3_SECRET,
      BACKUP_S3_PREFIX: `n${randomBytes(4).toString('hex')}/`,
      NOTIFY_WEBHOOK_URLS: hookUrl(), NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET, NOTIFY_HEALTHCHECKS_URL: `${receiver.url}/hc/${PING_KEY}`,
      BACKUP_JOB_ATTEMPTS: '2', BACKUP_JOB_BACKOFF_MS: '200', BACKUP_VERIFY_SCHEDULE_HOURS: '0', ...env,
    }, { idleTimeoutMs: 1000, connectionTimeoutMs: 500, maxAttempts: 1 }, notifyTimeoutMs !== undefined ? { notifyTimeoutMs } : {});
    return workers;
  };
  /** A job as the schedule makes it: signed, trigger `schedule`. */
  const scheduledBackup = async (w: InProcessWorkers): Promise<string> => {
    const jobId = `backup-sched-${randomBytes(4).toString('hex')}`;
    await w.queues.backup.add('backup', w.queues.signer().sign({ queue: 'backup', name: 'backup', id: jobId }, { trigger: 'schedule' as const }), { jobId });
    return jobId;
  };
  /** notifyDrained waits until the notify queue has nothing left to send or retry. */
  const notifyDrained = async (w: InProcessWorkers): Promise<void> => {
    for (;;) {
      const counts = await w.queues.notify.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(counts).every((n) => n === 0)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const secretsOf = (w: InProcessWorkers): string[] => [w.config.masterKey!.toString('hex'), S3_SECRET, WEBHOOK_SECRET, URL_PASSWORD, PING_KEY];

  it('S3 unreachable: exactly one backup.failed after the last attempt, signed, with no secret in it', async () => {
    const w = await start();
    await proxy.kill();
    proxyAlive = false;
    const { jobId } = await enqueueBackup(w.queues, { trigger: 'api' });
    const job = await w.finished(jobId);
    expect(job).toMatchObject({ state: 'failed', attemptsMade: 2 });
    await receiver.waitFor((rs) => rs.some((r) => r.path === '/hook'));
    await notifyDrained(w);
    const hooks = receiver.requests.filter((r) => r.path === '/hook');
    expect(hooks).toHaveLength(1);
    const [request] = hooks;
    const event = JSON.parse(request!.body) as Record<string, unknown>;
    expect(event).toMatchObject({ event: 'backup.failed', jobId, host: expect.any(String), message: expect.stringMatching(/^backup failed after 2 attempts: /), details: { attempts: 2, trigger: 'api' } });
    expect(Object.keys(event).sort()).toEqual(['at', 'details', 'event', 'host', 'jobId', 'message']);
    expect(signatureVerifies(request!, WEBHOOK_SECRET)).toBe(true);
    expect(signatureVerifies(request!, 'another secret')).toBe(false);
    expect(request!.headers['x-snapkeep-event']).toBe('backup.failed');
    // The URL's credentials went as a Basic header (fetch refuses them in a URL), and nowhere else.
    expect(request!.headers.authorization).toBe(`Basic ${Buffer.from(`snapkeep:${URL_PASSWORD}`).toString('base64')}`);
    for (const secret of secretsOf(w)) {
      expect(request!.body).not.toContain(secret);
      expect(w.logs.join('')).not.toContain(secret);
    }
    // Not a scheduled backup: no healthchecks ping.
    expect(receiver.requests.filter((r) => r.path.startsWith('/hc/'))).toEqual([]);
  });

  it('healthchecks: /start then the bare URL around a scheduled backup; /start then /fail when it fails for good', async () => {
    const w = await start();
    const ok = await w.finished(await scheduledBackup(w));
    expect(ok.state, ok.failedReason ?? '').toBe('completed');
    await receiver.waitFor((rs) => rs.filter((r) => r.path.startsWith('/hc/')).length >= 2);
    await notifyDrained(w);
    expect(receiver.requests.filter((r) => r.path.startsWith('/hc/')).map((r) => r.path)).toEqual([`/hc/${PING_KEY}/start`, `/hc/${PING_KEY}`]);

    receiver.requests.length = 0;
    const dbPath = w.config.dbPath!;
    renameSync(dbPath, `${dbPath}.away`);
    try {
      const failed = await w.finished(await scheduledBackup(w));
      // A missing database is no error a retry can fix: the first attempt is the last.
      expect(failed).toMatchObject({ state: 'failed', attemptsMade: 1 });
      await receiver.waitFor((rs) => rs.some((r) => r.path.endsWith('/fail')));
      await notifyDrained(w);
    } finally {
      renameSync(`${dbPath}.away`, dbPath);
    }
    expect(receiver.requests.filter((r) => r.path.startsWith('/hc/')).map((r) => r.path)).toEqual([`/hc/${PING_KEY}/start`, `/hc/${PING_KEY}/fail`]);
    expect(receiver.events().map((e) => e.event)).toEqual(['backup.failed']);
  });

  it('a receiver that answers 500 is retried, and never holds back or fails a backup', async () => {
    receiver.setMode('error');
    const w = await start({ NOTIFY_ON_SUCCESS: 'true' });
    const first = await w.finished((await enqueueBackup(w.queues, { trigger: 'api' })).jobId);
    const second = await w.finished((await enqueueBackup(w.queues, { trigger: 'api' })).jobId);
    expect([first.state, second.state]).toEqual(['completed', 'completed']);
    // Each backup.succeeded is tried again after a 500: more requests than events.
    await receiver.waitFor((rs) => rs.filter((r) => r.path === '/hook').length >= 3);
    const notifications = await w.queues.notify.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
    expect(notifications.some((j) => j.attemptsMade >= 1)).toBe(true);
    receiver.setMode('ok');
    await notifyDrained(w);
    const delivered = await w.queues.notify.getJobs(['completed']);
    expect(delivered.map((j) => (j.data as { notification?: { event: string } }).notification?.event).sort()).toEqual(['backup.succeeded', 'backup.succeeded']);
  });

  it('a receiver that hangs: a whole second backup runs while the first one\'s notification is held open', async () => {
    receiver.setMode('hang');
    // A delivery may wait 30 s here: longer than any of these backups, so a backup that waited would show.
    const w = await start({ NOTIFY_ON_SUCCESS: 'true' }, 30_000);
    const first = await w.finished((await enqueueBackup(w.queues, { trigger: 'api' })).jobId);
    await receiver.waitFor((rs) => rs.some((r) => r.path === '/hook'));
    const second: JobStatus = await w.finished((await enqueueBackup(w.queues, { trigger: 'api' })).jobId);
    expect([first.state, second.state]).toEqual(['completed', 'completed']);
    // Still held: the one request the receiver got is the first backup's, unanswered all along.
    expect(receiver.held).toBe(1);
    expect(receiver.events().map((e) => [e.event, e.backupId])).toEqual([['backup.succeeded', (first.result as { backupId: string }).backupId]]);
    // The second one's waits its turn (one delivery at a time), still queued.
    expect((await w.queues.notify.getJobCounts('waiting')).waiting).toBe(1);
    receiver.releaseHeld();
  });

  it('refuses a notify job that no master-key holder signed: nothing is sent', async () => {
    const w = await start();
    const jobId = `notify-forged-${randomBytes(4).toString('hex')}`;
    await w.queues.notify.add('notify', { target: 'healthchecks', ping: 'fail', message: 'forged' } as never, { jobId });
    const job = await w.finished(jobId);
    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(/^unauthenticated_job/);
    expect(receiver.requests).toEqual([]);
  });
});
