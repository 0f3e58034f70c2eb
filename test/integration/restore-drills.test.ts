import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PruneResult, VerifyResult } from '../../src/queue/job-types.js';
import { pollJob } from '../helpers/api-client.js';
import { startInProcessService, type InProcessService } from '../helpers/in-process-service.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { signatureVerifies, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'drill-webhook-secret';

interface ListedBackup { id: string; verified?: boolean; verifiedAt?: string; anomaly?: { reason: string; previousId: string } }

/**
 * Issue 16, restore drills and the anomaly guardrail, through the API of a service built in this
 * process (workers and app on a real Redis, a directory store) with a real webhook receiver.
 */
describe('restore drills and the anomaly guardrail', () => {
  let redis: TestRedis;
  let receiver: WebhookReceiver;
  let svc: InProcessService;

  beforeAll(async () => {
    [redis, receiver] = await Promise.all([startRedis(), startWebhookReceiver()]);
    svc = await startInProcessService(redis.url, {
      NOTIFY_WEBHOOK_URLS: `${receiver.url}/hook`, NOTIFY_WEBHOOK_SECRET: SECRET, BACKUP_VERIFY_SCHEDULE_HOURS: '0',
      // Both backups of this file fall on one day: with one daily slot, only the newest would stay.
      BACKUP_RETAIN_DAILY_DAYS: '1', BACKUP_RETAIN_WEEKLY_WEEKS: '0',
    });
  });
  afterAll(async () => {
    await svc?.close();
    await Promise.all([redis?.close(), receiver?.close()]);
  });

  const call = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${svc.api.url}${path}`, {
      method, headers: { authorization: `Bearer ${svc.admin}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const runJob = async <R>(path: string, body: unknown = {}): Promise<{ state: string; result: R; failedReason: string | null }> => {
    const accepted = await call<{ statusUrl: string }>('POST', path, body);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const job = await pollJob(svc.api.url, accepted.body.statusUrl, svc.admin);
    return job as unknown as { state: string; result: R; failedReason: string | null };
  };
  const backupNow = async (): Promise<string> => {
    const job = await runJob<{ backupId: string }>('/api/backups');
    expect(job.state, job.failedReason ?? '').toBe('completed');
    return job.result.backupId;
  };
  const listed = async (): Promise<ListedBackup[]> => (await call<{ backups: ListedBackup[] }>('GET', '/api/backups')).body.backups;
  const metric = async (name: string): Promise<number | undefined> => {
    const res = await fetch(`${svc.api.url}/metrics`, { headers: { authorization: `Bearer ${svc.viewer}` } });
    return sampleValue(parsePrometheusText(await res.text()), name);
  };
  // The database's directory also holds the service's state and store: only new names count.
  const besideDatabase = (): string[] => readdirSync(dirname(svc.config.dbPath!)).filter((n) => !/^app\.db(-wal|-shm)?$/.test(n) && n !== 'state' && n !== 'backups');

  let good = '';

  it('a drill of a good backup passes every check, is recorded, and moves the last-verified metric', async () => {
    good = await backupNow();
    expect(await metric('snapkeep_last_verified_backup_timestamp_seconds')).toBe(0);
    expect(await metric('snapkeep_verifications_failed_total')).toBe(0);
    const job = await runJob<VerifyResult>(`/api/backups/${good}/verify`);
    expect(job.state, job.failedReason ?? '').toBe('completed');
    const [v] = job.result.verifications;
    expect(job.result.verified).toBe(true);
    expect(v!.checks).toEqual(['download', 'decrypt', 'sqlite-header', 'integrity_check', 'fingerprint'].map((check) => ({ check, outcome: 'passed' })));
    // Written only under STATE_DIR/tmp, and removed: nothing beside DB_PATH, nothing left behind.
    expect(besideDatabase()).toEqual([]);
    expect(readdirSync(join(svc.config.stateDir, 'tmp'))).toEqual([]);
    expect((await listed()).find((b) => b.id === good)).toMatchObject({ verified: true, verifiedAt: v!.verifiedAt });
    expect(await metric('snapkeep_last_verified_backup_timestamp_seconds')).toBe(Date.parse(v!.verifiedAt) / 1000);
    const health = (await (await fetch(`${svc.api.url}/api/health`)).json()) as { lastGoodDrillAt: string | null };
    expect(health.lastGoodDrillAt).toBe(v!.verifiedAt);
  });

  it('a byte flipped in the stored object: the drill fails at the decrypt check, verify.failed is sent, the counter moves', async () => {
    const flipped = await backupNow();
    const file = join(svc.dir, 'backups', `${flipped}.crbu`);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(file, bytes);
    const lastGoodBefore = await metric('snapkeep_last_verified_backup_timestamp_seconds');

    const job = await runJob<VerifyResult>(`/api/backups/${flipped}/verify`);
    expect(job.state, job.failedReason ?? '').toBe('completed');
    expect(job.result.verified).toBe(false);
    expect(job.result.verifications[0]).toMatchObject({ verified: false, failedCheck: 'decrypt', reason: 'wrong master key or corrupted backup' });
    const [event] = (await receiver.waitFor((rs) => rs.some((r) => r.path === '/hook' && r.body.includes('verify.failed'))))
      .filter((r) => r.body.includes('verify.failed'));
    expect(signatureVerifies(event!, SECRET)).toBe(true);
    expect(JSON.parse(event!.body)).toMatchObject({
      event: 'verify.failed', backupId: flipped, message: expect.stringContaining('at decrypt'), details: { check: 'decrypt', trigger: 'api' },
    });
    expect(event!.body).not.toContain(svc.config.masterKey!.toString('hex'));
    expect(await metric('snapkeep_verifications_failed_total')).toBe(1);
    expect(await metric('snapkeep_last_verified_backup_timestamp_seconds')).toBe(lastGoodBefore);
    expect((await listed()).find((b) => b.id === flipped)).toMatchObject({ verified: false });
    expect(besideDatabase()).toEqual([]);
    expect(readdirSync(join(svc.config.stateDir, 'tmp'))).toEqual([]);
    // Out of the way of what follows: the guardrail compares with the newest readable backup.
    const { rmSync } = await import('node:fs');
    rmSync(file);
    rmSync(join(svc.dir, 'backups', `.${flipped}.crbu.meta.json`), { force: true });
  });

  it('answers 404 for a drill of a backup that does not exist, 400 for a bad id', async () => {
    expect((await call('POST', '/api/backups/20200101T000000Z-00000000/verify', {})).status).toBe(404);
    expect((await call('POST', '/api/backups/nope/verify', {})).status).toBe(400);
  });

  it('a table emptied: the backup is flagged and notified, and prunes keep the one before it until accept', async () => {
    const db = new Database(svc.config.dbPath!);
    db.exec('DELETE FROM notes');
    db.close();
    const emptied = await backupNow();

    const events = await receiver.waitFor((rs) => rs.some((r) => r.body.includes('backup.anomaly')));
    const anomaly = JSON.parse(events.find((r) => r.body.includes('backup.anomaly'))!.body) as { backupId: string; details: { reasons: string[]; previousId: string } };
    expect(anomaly).toMatchObject({ backupId: emptied, details: { previousId: good } });
    expect(anomaly.details.reasons).toEqual(expect.arrayContaining([`table notes lost 100% of its rows since ${good} (300 → 0)`]));
    const flagged = (await listed()).find((b) => b.id === emptied);
    expect(flagged?.anomaly).toMatchObject({ previousId: good, reason: expect.stringContaining('table notes lost 100%') });

    // One daily slot: the emptied backup is today's newest; the good one stays only as before-anomaly.
    const held = await runJob<PruneResult>('/api/backups/prune', { dryRun: false });
    expect(held.state, held.failedReason ?? '').toBe('completed');
    expect(held.result.deleted).toEqual([]);
    expect(held.result.reasons[good]).toEqual(['before-anomaly']);
    expect((await listed()).map((b) => b.id)).toEqual([emptied, good]);

    expect((await call('POST', `/api/backups/${good}/accept`, {})).status).toBe(409);
    const accepted = await call<{ backupId: string; accepted: boolean }>('POST', `/api/backups/${emptied}/accept`, {});
    expect(accepted).toEqual({ status: 200, body: { backupId: emptied, accepted: true } });
    expect((await listed()).find((b) => b.id === emptied)?.anomaly).toBeUndefined();
    const pruned = await runJob<PruneResult>('/api/backups/prune', { dryRun: false });
    expect(pruned.result.deleted).toEqual([good]);
    const prunedEvent = await receiver.waitFor((rs) => rs.some((r) => r.body.includes('prune.deleted')));
    expect(JSON.parse(prunedEvent.find((r) => r.body.includes('prune.deleted'))!.body)).toMatchObject({ details: { deleted: 1, deletedIds: [good] } });
  });
});
