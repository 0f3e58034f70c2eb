import { describe, expect, it } from 'vitest';
import { detectAnomaly, type BackupShape } from '../../src/guardrail/detect-anomaly.js';
import { planRetention } from '../../src/retention/plan-retention.js';

const shape = (id: string, size: number, tables?: Record<string, number>, format = 'crbu1'): BackupShape => ({
  id, size, format, ...(tables ? { fingerprint: { tables, schemaSha256: 'a'.repeat(64) } } : {}),
});

describe('detectAnomaly', () => {
  it.each<[string, BackupShape, BackupShape, number, string[]]>([
    ['nothing changed', shape('A', 1000, { notes: 300 }), shape('B', 1000, { notes: 300 }), 50, []],
    ['growth is never an anomaly', shape('A', 1000, { notes: 300 }), shape('B', 9000, { notes: 3000 }), 50, []],
    ['exactly the threshold is not more than it', shape('A', 1000, { notes: 300 }), shape('B', 500, { notes: 150 }), 50, []],
    ['a table emptied', shape('A', 1000, { notes: 300 }), shape('B', 1000, { notes: 0 }), 50, ['table notes lost 100% of its rows since A (300 → 0)']],
    ['a table gone', shape('A', 1000, { notes: 300, users: 2 }), shape('B', 1000, { notes: 300 }), 50, ['table users disappeared (it had 2 rows in A)']],
    ['the backup shrank', shape('A', 1000), shape('B', 100), 50, ['the backup shrank by 90% since A (1000 → 100 bytes)']],
    ['sizes of two formats are not compared', shape('A', 1000, undefined, 'crbu1'), shape('B', 100, undefined, 'crbu3'), 50, []],
    ['an empty table that stays empty', shape('A', 1000, { notes: 0 }), shape('B', 1000, { notes: 0 }), 50, []],
    ['off at 0', shape('A', 1000, { notes: 300 }), shape('B', 1, {}), 0, []],
    ['a stricter threshold', shape('A', 1000, { notes: 100 }), shape('B', 1000, { notes: 85 }), 10, ['table notes lost 15% of its rows since A (100 → 85)']],
  ])('%s', (_name, before, after, percent, reasons) => {
    expect(detectAnomaly(before, after, percent)).toEqual(reasons);
  });

  it('compares no tables when either fingerprint is only a digest', () => {
    const digest = { id: 'A', size: 1000, format: 'crbu1', fingerprint: { digest: 'f'.repeat(64) } };
    expect(detectAnomaly(digest, shape('B', 1000, {}), 50)).toEqual([]);
  });
});

describe('planRetention: before-anomaly', () => {
  const at = (iso: string, suffix = '00000000') => ({ id: `${iso.replace(/[-:]/g, '').replace(/\.\d{3}Z$|Z$/, 'Z')}-${suffix}`, createdAt: new Date(iso) });
  const old = at('2026-01-05T02:00:00Z');
  const before = at('2026-03-01T02:00:00Z');
  const emptied = at('2026-03-02T02:00:00Z');
  const later = at('2026-03-11T02:00:00Z');
  const now = new Date('2026-03-11T12:00:00Z');
  const policy = { dailyDays: 3, weeklyWeeks: 0 };

  it('keeps the newest unflagged backup before an anomaly, however old, and nothing else extra', () => {
    const plan = planRetention([old, before, emptied, later], policy, now, { anomalies: [emptied] });
    expect(plan.keep).toEqual([{ id: later.id, reasons: ['daily 2026-03-11', 'newest'] }, { id: before.id, reasons: ['before-anomaly'] }]);
    expect(plan.delete).toEqual([emptied.id, old.id]);
  });

  it('holds even after the anomalous backup itself is gone, and a forced prune does not lift it', () => {
    const plan = planRetention([old, before, later], policy, now, { anomalies: [emptied], force: true });
    expect(plan.keep.find((k) => k.id === before.id)?.reasons).toEqual(['before-anomaly']);
  });

  it('skips flagged backups when looking for the good one, and holds it once for several anomalies', () => {
    const second = at('2026-03-03T02:00:00Z');
    const plan = planRetention([before, emptied, second, later], policy, now, { anomalies: [emptied, second] });
    expect(plan.keep.filter((k) => k.reasons.includes('before-anomaly')).map((k) => k.id)).toEqual([before.id]);
  });

  it('without anomalies the plan is what it always was', () => {
    expect(planRetention([old, before, emptied, later], policy, now, { anomalies: [] })).toEqual(planRetention([old, before, emptied, later], policy, now));
  });
});
