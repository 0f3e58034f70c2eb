import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planRetention, type RetentionCandidate, type RetentionPlan } from '../../src/retention/plan-retention.js';

const DAY = 86_400_000;

interface Scenario {
  now: Date;
  backups: RetentionCandidate[];
  dailyDays: number;
  weeklyWeeks: number;
  force: boolean;
}

/** An id of the real shape; a shared second and suffix gives a shared id, as a duplicate listing would. */
function backupAt(time: number, suffix: string): RetentionCandidate {
  const createdAt = new Date(time);
  const stamp = createdAt.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return { id: `${stamp}-${suffix}`, createdAt };
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    // Whole seconds between 1990 and 2090, as backup ids carry.
    nowSeconds: fc.integer({ min: 631_152_000, max: 3_786_912_000 }),
    offsets: fc.array(
      fc.record({
        // Mostly anywhere in ±120 days; sometimes within seconds of now or of each other, to force ties and skew.
        seconds: fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: -120 * 86_400, max: 120 * 86_400 }) },
          { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) },
          { weight: 1, arbitrary: fc.integer({ min: -20, max: 2 }).map((d) => d * 86_400) },
        ),
        suffix: fc.constantFrom('00000000', '0000000a', '000000ff', 'ffffffff'),
      }),
      { maxLength: 40 },
    ),
    dailyDays: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 })),
    weeklyWeeks: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 8 })),
    force: fc.boolean(),
  })
  .map(({ nowSeconds, offsets, dailyDays, weeklyWeeks, force }) => ({
    now: new Date(nowSeconds * 1000),
    backups: offsets.map(({ seconds, suffix }) => backupAt((nowSeconds + seconds) * 1000, suffix)),
    dailyDays,
    weeklyWeeks,
    force,
  }));

const plan = (s: Scenario): RetentionPlan =>
  planRetention(s.backups, { dailyDays: s.dailyDays, weeklyWeeks: s.weeklyWeeks }, s.now, { force: s.force });

/** The reference order, written out independently: later first, then the greater id. */
const newer = (a: RetentionCandidate, b: RetentionCandidate): boolean =>
  a.createdAt.getTime() !== b.createdAt.getTime() ? a.createdAt > b.createdAt : a.id > b.id;

function newestOf(list: RetentionCandidate[]): RetentionCandidate | undefined {
  return list.reduce<RetentionCandidate | undefined>((best, b) => (best === undefined || newer(b, best) ? b : best), undefined);
}

function unique(backups: RetentionCandidate[]): RetentionCandidate[] {
  return [...new Map(backups.map((b) => [b.id, b])).values()];
}

/** Windows as [start, end) instants: N calendar days ending with now's day, M Monday-first weeks ending with now's. */
function windows(s: Scenario): { days: Array<[number, number]>; weeks: Array<[number, number]> } {
  const today = Date.UTC(s.now.getUTCFullYear(), s.now.getUTCMonth(), s.now.getUTCDate());
  const monday = today - ((s.now.getUTCDay() + 6) % 7) * DAY;
  return {
    days: Array.from({ length: s.dailyDays }, (_, k): [number, number] => [today - k * DAY, today - (k - 1) * DAY]),
    weeks: Array.from({ length: s.weeklyWeeks }, (_, k): [number, number] => [monday - 7 * k * DAY, monday - 7 * (k - 1) * DAY]),
  };
}

/** The ISO week label of the week starting on `monday`, by "week 1 is the week holding 4 January". */
function weekLabel(monday: number): string {
  const year = new Date(monday + 3 * DAY).getUTCFullYear();
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const week1 = jan4.getTime() - ((jan4.getUTCDay() + 6) % 7) * DAY;
  return `${year}-W${String((monday - week1) / (7 * DAY) + 1).padStart(2, '0')}`;
}

function reasonsOf(p: RetentionPlan): Map<string, string[]> {
  return new Map(p.keep.map((k) => [k.id, k.reasons]));
}

describe('planRetention properties', () => {
  const runs = { numRuns: 400 };

  it('partitions the input: keep and delete are disjoint, cover every id once, newest first', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const p = plan(s);
        const kept = p.keep.map((k) => k.id);
        const all = [...kept, ...p.delete];
        expect(new Set(all).size).toBe(all.length);
        expect(new Set(all)).toEqual(new Set(s.backups.map((b) => b.id)));
        const byId = new Map(s.backups.map((b) => [b.id, b]));
        for (const list of [kept, p.delete]) {
          for (let i = 1; i < list.length; i++) expect(newer(byId.get(list[i - 1]!)!, byId.get(list[i]!)!)).toBe(true);
        }
        for (const k of p.keep) expect(k.reasons.length).toBeGreaterThan(0);
      }),
      runs,
    );
  });

  it('never deletes the newest backup, the newest as of now, nor any backup later than now', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const p = plan(s);
        const reasons = reasonsOf(p);
        const newest = newestOf(s.backups);
        if (newest) expect(reasons.has(newest.id)).toBe(true);
        const newestPast = newestOf(s.backups.filter((b) => b.createdAt <= s.now));
        if (newestPast) expect(reasons.get(newestPast.id)).toContain('newest');
        expect([...reasons.values()].filter((rs) => rs.includes('newest'))).toHaveLength(newestPast ? 1 : 0);
        for (const b of s.backups) {
          if (b.createdAt > s.now) expect(reasons.get(b.id)).toContain('future');
          else expect(reasons.get(b.id) ?? []).not.toContain('future');
        }
      }),
      runs,
    );
  });

  it('keeps exactly the newest non-future backup of each window day and week, for that rule only', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const reasons = reasonsOf(plan(s));
        const past = unique(s.backups).filter((b) => b.createdAt <= s.now);
        const { days, weeks } = windows(s);
        const check = (wins: Array<[number, number]>, rule: 'daily' | 'weekly', label: (start: number) => string): void => {
          let expectedKept = 0;
          for (const [start, end] of wins) {
            const inside = past.filter((b) => b.createdAt.getTime() >= start && b.createdAt.getTime() < end);
            const best = newestOf(inside);
            if (best) {
              expectedKept++;
              expect(reasons.get(best.id)).toContain(`${rule} ${label(start)}`);
            }
            for (const b of inside) {
              if (b !== best) expect((reasons.get(b.id) ?? []).some((r) => r.startsWith(`${rule} `))).toBe(false);
            }
          }
          // No backup outside the windows carries this rule's reason.
          const carrying = [...reasons.values()].filter((rs) => rs.some((r) => r.startsWith(`${rule} `)));
          expect(carrying).toHaveLength(expectedKept);
        };
        check(days, 'daily', (start) => new Date(start).toISOString().slice(0, 10));
        check(weeks, 'weekly', weekLabel);
      }),
      runs,
    );
  });

  it('deletes every other backup, unless retention is off or the safety rail holds them', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const p = plan(s);
        const all = unique(s.backups);
        const past = all.filter((b) => b.createdAt <= s.now);
        const { days, weeks } = windows(s);
        const byRule = new Set<string>();
        for (const [start, end] of [...days, ...weeks]) {
          const best = newestOf(past.filter((b) => b.createdAt.getTime() >= start && b.createdAt.getTime() < end));
          if (best) byRule.add(best.id);
        }
        const newest = newestOf(past);
        const rulesWouldDelete = past.filter((b) => !byRule.has(b.id) && b !== newest);
        if (s.dailyDays === 0 && s.weeklyWeeks === 0) {
          expect(p.delete).toEqual([]);
        } else if (byRule.size === 0 && !s.force) {
          expect(p.delete).toEqual([]);
        } else {
          expect(new Set(p.delete)).toEqual(new Set(rulesWouldDelete.map((b) => b.id)));
          expect(p.skippedReason).toBeUndefined();
        }
        if (p.skippedReason !== undefined) {
          expect(p.delete).toEqual([]);
          expect(rulesWouldDelete.length).toBeGreaterThan(0);
        }
      }),
      runs,
    );
  });

  it('does not depend on input order or on duplicate listings', () => {
    const withPermutation = scenario.chain((s) =>
      fc.shuffledSubarray(s.backups, { minLength: s.backups.length }).map((shuffled) => ({ s, shuffled })),
    );
    fc.assert(
      fc.property(withPermutation, ({ s, shuffled }) => {
        expect(plan({ ...s, backups: [...shuffled, ...shuffled.slice(0, 3)] })).toEqual(plan(s));
      }),
      runs,
    );
  });
});
