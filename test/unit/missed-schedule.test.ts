import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logging/create-logger.js';
import type { Notifier } from '../../src/notify/notifier.js';
import { LocalBackupStore } from '../../src/storage/local-store.js';
import { checkMissedSchedule, schedulePeriodMs } from '../../workers/monitoring/missed-schedule.js';
import { removeDir } from '../helpers/redis-server.js';

const HOUR = 3_600_000;

describe('schedulePeriodMs', () => {
  it.each([
    [{ type: 'off' } as const, undefined],
    [{ type: 'every', everyMs: 6 * HOUR } as const, 6 * HOUR],
    [{ type: 'cron', pattern: '0 2 * * *', tz: 'UTC' } as const, 24 * HOUR],
    // Weekdays only: the longest gap, Friday to Monday, is the period that counts.
    [{ type: 'cron', pattern: '0 2 * * 1-5', tz: 'Europe/Berlin' } as const, 72 * HOUR],
  ])('%j is %s ms', (schedule, period) => {
    expect(schedulePeriodMs(schedule, Date.parse('2026-03-11T12:00:00Z'))).toBe(period);
  });
});

describe('checkMissedSchedule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'snapkeep-missed-'));
  afterAll(() => removeDir(dir));
  const calls: Array<{ event: string; message: string; dedupeKey?: string }> = [];
  const notifier: Notifier = {
    async notify(what, options) { calls.push({ event: what.event, message: what.message, ...(options?.dedupeKey ? { dedupeKey: options.dedupeKey } : {}) }); },
    async ping() { /* not used */ },
  };
  const config = loadConfig({ BACKUP_LOCAL_DIR: join(dir, 'store'), MASTER_KEY: 'ab'.repeat(32), BACKUP_SCHEDULE_HOURS: '24' });
  const check = { config, store: new LocalBackupStore({ type: 'local', dir: join(dir, 'store') }), logger: createLogger({ level: 'error', format: 'json' }), notifier, startedAt: Date.parse('2026-03-01T00:00:00Z') };
  mkdirSync(join(dir, 'store'));

  it('says nothing within twice the period, and once per gap after it', async () => {
    writeFileSync(join(dir, 'store', '20260310T020000Z-0000aaaa.crbu'), 'x');
    expect(await checkMissedSchedule(check, Date.parse('2026-03-12T01:00:00Z'))).toBe(false);
    expect(calls).toEqual([]);
    expect(await checkMissedSchedule(check, Date.parse('2026-03-12T03:00:00Z'))).toBe(true);
    expect(calls).toEqual([{ event: 'schedule.missed', message: expect.stringContaining('the newest is 20260310T020000Z-0000aaaa'), dedupeKey: 'missed-since-20260310T020000Z-0000aaaa' }]);
  });

  it('counts from the process start when there is no backup at all', async () => {
    const empty = { ...check, store: new LocalBackupStore({ type: 'local', dir: join(dir, 'empty') }) };
    calls.length = 0;
    expect(await checkMissedSchedule(empty, Date.parse('2026-03-02T23:00:00Z'))).toBe(false);
    expect(await checkMissedSchedule(empty, Date.parse('2026-03-03T01:00:00Z'))).toBe(true);
    expect(calls[0]).toMatchObject({ event: 'schedule.missed', message: expect.stringContaining('no backup at all') });
  });
});
