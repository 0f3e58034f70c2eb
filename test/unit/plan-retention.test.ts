import { describe, expect, it } from 'vitest';
import type { RetentionPolicy } from '../../src/config/config.js';
import { isoWeek, isoWeekLabel, utcDay } from '../../src/retention/calendar.js';
import { planRetention, type RetentionCandidate, type RetentionPlan } from '../../src/retention/plan-retention.js';

/**
 * A backup written as `ISO-time` or `ISO-time#suffix`; the id has the real backup-id shape so ties in
 * one second differ only by their random suffix, exactly as in a store.
 */
function backup(spec: string): RetentionCandidate {
  const [iso, suffix = '00000000'] = spec.split('#') as [string, string?];
  const createdAt = new Date(iso);
  const stamp = createdAt.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return { id: `${stamp}-${suffix.padStart(8, '0')}`, createdAt };
}

const id = (spec: string): string => backup(spec).id;

/** dailyAt2 lists `YYYY-MM-DDT02:00:00Z` for every day from `first` to `last`, inclusive. */
function dailyAt2(first: string, last: string): string[] {
  const specs: string[] = [];
  for (let t = Date.parse(`${first}T02:00:00Z`); t <= Date.parse(`${last}T02:00:00Z`); t += 86_400_000) {
    specs.push(new Date(t).toISOString().replace('.000Z', 'Z'));
  }
  return specs;
}

describe('isoWeek and utcDay', () => {
  it.each([
    ['2020-12-31T12:00:00Z', 2020, 53, '2020-W53'],
    ['2021-01-01T00:00:00Z', 2020, 53, '2020-W53'],
    ['2021-01-03T23:59:59.999Z', 2020, 53, '2020-W53'],
    ['2021-01-04T00:00:00Z', 2021, 1, '2021-W01'],
    ['2026-12-31T12:00:00Z', 2026, 53, '2026-W53'],
    ['2027-01-03T12:00:00Z', 2026, 53, '2026-W53'],
    ['2027-01-04T00:00:00Z', 2027, 1, '2027-W01'],
    ['2024-12-29T23:59:59Z', 2024, 52, '2024-W52'],
    ['2024-12-30T00:00:00Z', 2025, 1, '2025-W01'],
    ['2025-12-29T00:00:00Z', 2026, 1, '2026-W01'],
    ['2023-01-01T12:00:00Z', 2022, 52, '2022-W52'],
    ['2026-03-08T23:59:59.999Z', 2026, 10, '2026-W10'],
    ['2026-03-09T00:00:00Z', 2026, 11, '2026-W11'],
    // Before the epoch: day counts go negative and must still land on Mondays.
    ['1969-12-28T12:00:00Z', 1969, 52, '1969-W52'],
    ['1969-12-29T00:00:00Z', 1970, 1, '1970-W01'],
  ])('%s is ISO week %i-W%i', (iso, year, week, label) => {
    expect(isoWeek(new Date(iso))).toEqual({ year, week });
    expect(isoWeekLabel(new Date(iso))).toBe(label);
  });

  it.each([
    ['2026-03-08T23:59:59.999Z', '2026-03-08'],
    ['2026-03-09T00:00:00Z', '2026-03-09'],
    // An offset in the input must not leak in: 00:30 in UTC+1 is still the previous UTC day.
    ['2026-03-09T00:30:00+01:00', '2026-03-08'],
    ['0999-01-02T00:00:00Z', '0999-01-02'],
  ])('utcDay(%s) is %s', (iso, day) => {
    expect(utcDay(new Date(iso))).toBe(day);
  });

  it('rejects an invalid date', () => {
    expect(() => utcDay(new Date('nope'))).toThrow(RangeError);
    expect(() => isoWeek(new Date(Number.NaN))).toThrow(RangeError);
  });
});

interface Case {
  name: string;
  now: string;
  policy: RetentionPolicy;
  force?: boolean;
  backups: string[];
  keep: Array<[string, string[]]>;
  delete: string[];
  skippedReason?: string | RegExp;
}

const WED = '2026-03-11T12:00:00Z';
const DEFAULTS: RetentionPolicy = { dailyDays: 7, weeklyWeeks: 4 };
const OLD_ONLY = ['2026-01-10T02:00:00Z', '2026-01-09T02:00:00Z', '2026-01-08T02:00:00Z'];

const cases: Case[] = [
  {
    name: 'ISO week-year 2020 has 53 weeks: 2020-12-31 and 2021-01-03 share 2020-W53',
    now: '2021-01-04T12:00:00Z',
    policy: { dailyDays: 0, weeklyWeeks: 2 },
    backups: ['2021-01-04T01:00:00Z', '2021-01-03T10:00:00Z', '2020-12-31T10:00:00Z', '2020-12-27T10:00:00Z'],
    keep: [
      ['2021-01-04T01:00:00Z', ['weekly 2021-W01', 'newest']],
      ['2021-01-03T10:00:00Z', ['weekly 2020-W53']],
    ],
    delete: ['2020-12-31T10:00:00Z', '2020-12-27T10:00:00Z'],
  },
  {
    name: 'ISO week-year 2026 has 53 weeks: 2026-12-31 and 2027-01-03 share 2026-W53',
    now: '2027-01-03T23:00:00Z',
    policy: { dailyDays: 1, weeklyWeeks: 2 },
    backups: ['2027-01-03T22:00:00Z', '2027-01-03T21:00:00Z', '2026-12-31T10:00:00Z', '2026-12-27T10:00:00Z', '2026-12-20T10:00:00Z'],
    keep: [
      ['2027-01-03T22:00:00Z', ['daily 2027-01-03', 'weekly 2026-W53', 'newest']],
      ['2026-12-27T10:00:00Z', ['weekly 2026-W52']],
    ],
    delete: ['2027-01-03T21:00:00Z', '2026-12-31T10:00:00Z', '2026-12-20T10:00:00Z'],
  },
  {
    name: '2024-12-30 belongs to 2025-W01, the day before to 2024-W52',
    now: '2025-01-02T12:00:00Z',
    policy: { dailyDays: 0, weeklyWeeks: 2 },
    backups: ['2024-12-31T08:00:00Z', '2024-12-30T08:00:00Z', '2024-12-29T08:00:00Z', '2024-12-22T08:00:00Z'],
    keep: [
      ['2024-12-31T08:00:00Z', ['weekly 2025-W01', 'newest']],
      ['2024-12-29T08:00:00Z', ['weekly 2024-W52']],
    ],
    delete: ['2024-12-30T08:00:00Z', '2024-12-22T08:00:00Z'],
  },
  {
    name: 'days without backups do not shift the daily window (calendar days, not "last N backups")',
    now: WED,
    policy: { dailyDays: 7, weeklyWeeks: 0 },
    backups: dailyAt2('2026-03-01', '2026-03-11').filter((s) => !/-0[789]T/.test(s)),
    keep: [
      ['2026-03-11T02:00:00Z', ['daily 2026-03-11', 'newest']],
      ['2026-03-10T02:00:00Z', ['daily 2026-03-10']],
      ['2026-03-06T02:00:00Z', ['daily 2026-03-06']],
      ['2026-03-05T02:00:00Z', ['daily 2026-03-05']],
    ],
    delete: ['2026-03-04T02:00:00Z', '2026-03-03T02:00:00Z', '2026-03-02T02:00:00Z', '2026-03-01T02:00:00Z'],
  },
  {
    name: 'several backups in one second: the greatest id is the newest',
    now: WED,
    policy: DEFAULTS,
    backups: ['2026-03-11T02:00:00Z#0000000a', '2026-03-11T02:00:00Z#000000ff', '2026-03-11T02:00:00Z#00000001', '2026-03-10T02:00:00Z'],
    keep: [
      ['2026-03-11T02:00:00Z#000000ff', ['daily 2026-03-11', 'weekly 2026-W11', 'newest']],
      ['2026-03-10T02:00:00Z', ['daily 2026-03-10']],
    ],
    delete: ['2026-03-11T02:00:00Z#0000000a', '2026-03-11T02:00:00Z#00000001'],
  },
  {
    name: 'N = 0 switches the daily rule off',
    now: WED,
    policy: { dailyDays: 0, weeklyWeeks: 4 },
    backups: dailyAt2('2026-03-01', '2026-03-11'),
    keep: [
      ['2026-03-11T02:00:00Z', ['weekly 2026-W11', 'newest']],
      ['2026-03-08T02:00:00Z', ['weekly 2026-W10']],
      ['2026-03-01T02:00:00Z', ['weekly 2026-W09']],
    ],
    delete: ['10', '09', '07', '06', '05', '04', '03', '02'].map((d) => `2026-03-${d}T02:00:00Z`),
  },
  {
    name: 'M = 0 switches the weekly rule off',
    now: WED,
    policy: { dailyDays: 3, weeklyWeeks: 0 },
    backups: dailyAt2('2026-03-01', '2026-03-11'),
    keep: [
      ['2026-03-11T02:00:00Z', ['daily 2026-03-11', 'newest']],
      ['2026-03-10T02:00:00Z', ['daily 2026-03-10']],
      ['2026-03-09T02:00:00Z', ['daily 2026-03-09']],
    ],
    delete: ['08', '07', '06', '05', '04', '03', '02', '01'].map((d) => `2026-03-${d}T02:00:00Z`),
  },
  ...[false, true].map(
    (force): Case => ({
      name: `N = M = 0 deletes nothing${force ? ', even with force' : ''}`,
      now: WED,
      policy: { dailyDays: 0, weeklyWeeks: 0 },
      force,
      backups: ['2026-03-11T02:00:00Z', '2026-03-10T02:00:00Z', '2025-01-01T02:00:00Z'],
      keep: [
        ['2026-03-11T02:00:00Z', ['newest']],
        ['2026-03-10T02:00:00Z', ['retention disabled']],
        ['2025-01-01T02:00:00Z', ['retention disabled']],
      ],
      delete: [],
      skippedReason: /^retention disabled/,
    }),
  ),
  {
    name: 'backups later than now (clock skew) stay and fill no day or week',
    now: WED,
    policy: { dailyDays: 2, weeklyWeeks: 1 },
    backups: [
      '2026-03-12T02:00:00Z',
      '2026-03-11T12:00:05Z',
      '2026-03-11T02:00:00Z',
      '2026-03-11T01:00:00Z',
      '2026-03-10T02:00:00Z',
      '2026-03-09T02:00:00Z',
      '2026-03-08T02:00:00Z',
    ],
    keep: [
      ['2026-03-12T02:00:00Z', ['future']],
      ['2026-03-11T12:00:05Z', ['future']],
      ['2026-03-11T02:00:00Z', ['daily 2026-03-11', 'weekly 2026-W11', 'newest']],
      ['2026-03-10T02:00:00Z', ['daily 2026-03-10']],
    ],
    delete: ['2026-03-11T01:00:00Z', '2026-03-09T02:00:00Z', '2026-03-08T02:00:00Z'],
  },
  {
    name: 'a backup taken exactly at now is not in the future',
    now: WED,
    policy: { dailyDays: 1, weeklyWeeks: 0 },
    backups: [WED, '2026-03-11T02:00:00Z'],
    keep: [[WED, ['daily 2026-03-11', 'newest']]],
    delete: ['2026-03-11T02:00:00Z'],
  },
  {
    name: 'with force, the newest survives though it is outside every window',
    now: WED,
    policy: DEFAULTS,
    force: true,
    backups: OLD_ONLY,
    keep: [['2026-01-10T02:00:00Z', ['newest']]],
    delete: ['2026-01-09T02:00:00Z', '2026-01-08T02:00:00Z'],
  },
  {
    name: 'safety rail: no backup in any window deletes nothing and says why',
    now: WED,
    policy: DEFAULTS,
    backups: OLD_ONLY,
    keep: [
      ['2026-01-10T02:00:00Z', ['newest']],
      ['2026-01-09T02:00:00Z', ['safety rail']],
      ['2026-01-08T02:00:00Z', ['safety rail']],
    ],
    delete: [],
    skippedReason:
      'no backup in the last 7 days or 4 weeks: backups may have stopped; nothing deleted (use --force to prune anyway)',
  },
  {
    name: 'safety rail names only the windows that are on',
    now: WED,
    policy: { dailyDays: 0, weeklyWeeks: 1 },
    backups: OLD_ONLY.slice(0, 2),
    keep: [
      ['2026-01-10T02:00:00Z', ['newest']],
      ['2026-01-09T02:00:00Z', ['safety rail']],
    ],
    delete: [],
    skippedReason: 'no backup in the last 1 week: backups may have stopped; nothing deleted (use --force to prune anyway)',
  },
  {
    name: 'safety rail: a future backup does not count as a backup in the window',
    now: WED,
    policy: DEFAULTS,
    backups: ['2026-03-20T02:00:00Z', '2026-01-02T02:00:00Z', '2026-01-01T02:00:00Z'],
    keep: [
      ['2026-03-20T02:00:00Z', ['future']],
      ['2026-01-02T02:00:00Z', ['newest']],
      ['2026-01-01T02:00:00Z', ['safety rail']],
    ],
    delete: [],
    skippedReason: /^no backup in the last 7 days or 4 weeks/,
  },
  {
    // A clock that ran ahead must not let a forced prune delete the last real backup: the newest as
    // of now stays beside the future-stamped one.
    name: 'safety rail with force: the future backup and the newest as of now stay',
    now: WED,
    policy: DEFAULTS,
    force: true,
    backups: ['2026-03-20T02:00:00Z', '2026-01-02T02:00:00Z', '2026-01-01T02:00:00Z'],
    keep: [
      ['2026-03-20T02:00:00Z', ['future']],
      ['2026-01-02T02:00:00Z', ['newest']],
    ],
    delete: ['2026-01-01T02:00:00Z'],
  },
  {
    name: 'every backup in the future: all stay, none is the newest as of now',
    now: WED,
    policy: DEFAULTS,
    force: true,
    backups: ['2026-03-20T02:00:00Z', '2026-03-12T02:00:00Z'],
    keep: [
      ['2026-03-20T02:00:00Z', ['future']],
      ['2026-03-12T02:00:00Z', ['future']],
    ],
    delete: [],
  },
  {
    // Issue 13, finding 6: a name planted in the bucket for 2099. Never deleted by a prune (a host
    // whose clock runs behind would see real backups as future: deleting "future" ones could cost
    // them), but it fills no window and is not the newest, so real backups are pruned as usual.
    name: 'a backup planted for 2099 stays as future and keeps nothing else from being pruned',
    now: WED,
    policy: { dailyDays: 1, weeklyWeeks: 0 },
    backups: ['2099-12-31T23:59:59Z', '2026-03-11T02:00:00Z', '2026-03-10T02:00:00Z', '2026-03-09T02:00:00Z'],
    keep: [
      ['2099-12-31T23:59:59Z', ['future']],
      ['2026-03-11T02:00:00Z', ['daily 2026-03-11', 'newest']],
    ],
    delete: ['2026-03-10T02:00:00Z', '2026-03-09T02:00:00Z'],
  },
  {
    name: 'a lone old backup needs no rail: it is the newest',
    now: WED,
    policy: DEFAULTS,
    backups: ['2025-06-01T02:00:00Z'],
    keep: [['2025-06-01T02:00:00Z', ['newest']]],
    delete: [],
  },
  { name: 'no backups, no plan', now: WED, policy: DEFAULTS, backups: [], keep: [], delete: [] },
];

/** expectPlan compares a plan with a case's expectation, whole, so order and reasons count. */
function expectPlan(plan: RetentionPlan, c: Case): void {
  expect({ keep: plan.keep, delete: plan.delete }).toEqual({
    keep: c.keep.map(([spec, reasons]) => ({ id: id(spec), reasons })),
    delete: c.delete.map(id),
  });
  if (c.skippedReason === undefined) expect(plan.skippedReason).toBeUndefined();
  else if (typeof c.skippedReason === 'string') expect(plan.skippedReason).toBe(c.skippedReason);
  else expect(plan.skippedReason).toMatch(c.skippedReason);
}

describe('planRetention', () => {
  it.each(cases)('$name', (c) => {
    const backups = c.backups.map(backup);
    const run = (input: RetentionCandidate[]): RetentionPlan =>
      planRetention(input, c.policy, new Date(c.now), c.force === undefined ? undefined : { force: c.force });
    expectPlan(run(backups), c);
    // Input order must not matter, and a backup listed twice counts once.
    expectPlan(run([...backups].reverse()), c);
    expectPlan(run([...backups.slice(1), ...backups, ...backups.slice(0, 2)]), c);
  });

  it('keeps 9 of 60 daily backups with the defaults (7 days, 4 weeks), computed by hand', () => {
    // now is Wednesday 2026-03-11: W11 is Mon 03-09 … Sun 03-15, W10 03-02 … 03-08, W09 02-23 … 03-01,
    // W08 02-16 … 02-22. Days 03-05 … 03-11 keep theirs; W10 and W11's newest are already daily ones.
    const specs = dailyAt2('2026-01-11', '2026-03-11');
    expect(specs).toHaveLength(60);
    const keep: Array<[string, string[]]> = [
      ['2026-03-11T02:00:00Z', ['daily 2026-03-11', 'weekly 2026-W11', 'newest']],
      ['2026-03-10T02:00:00Z', ['daily 2026-03-10']],
      ['2026-03-09T02:00:00Z', ['daily 2026-03-09']],
      ['2026-03-08T02:00:00Z', ['daily 2026-03-08', 'weekly 2026-W10']],
      ['2026-03-07T02:00:00Z', ['daily 2026-03-07']],
      ['2026-03-06T02:00:00Z', ['daily 2026-03-06']],
      ['2026-03-05T02:00:00Z', ['daily 2026-03-05']],
      ['2026-03-01T02:00:00Z', ['weekly 2026-W09']],
      ['2026-02-22T02:00:00Z', ['weekly 2026-W08']],
    ];
    const kept = new Set(keep.map(([spec]) => spec));
    const plan = planRetention(specs.map(backup), DEFAULTS, new Date(WED));
    expectPlan(plan, {
      name: '60 days',
      now: WED,
      policy: DEFAULTS,
      backups: specs,
      keep,
      delete: specs.filter((s) => !kept.has(s)).reverse(),
    });
    expect(plan.delete).toHaveLength(51);
    expect(plan.delete[0]).toBe(id('2026-03-04T02:00:00Z'));
    expect(plan.delete.at(-1)).toBe(id('2026-01-11T02:00:00Z'));
  });

  it('counts a duplicated id once, at its latest time, whatever the order', () => {
    const dup = '20260311T020000Z-00000000';
    const older = { id: dup, createdAt: new Date('2026-03-01T02:00:00Z') };
    const newer = { id: dup, createdAt: new Date('2026-03-11T02:00:00Z') };
    const other = backup('2026-03-05T02:00:00Z');
    for (const input of [[older, newer, other], [newer, other, older]]) {
      const plan = planRetention(input, { dailyDays: 1, weeklyWeeks: 0 }, new Date(WED));
      expect(plan.keep).toEqual([{ id: dup, reasons: ['daily 2026-03-11', 'newest'] }]);
      expect(plan.delete).toEqual([other.id]);
    }
  });

  it('does not mutate its input', () => {
    const backups = Object.freeze(dailyAt2('2026-03-01', '2026-03-11').map(backup));
    const before = backups.map((b) => b.id);
    planRetention(backups, DEFAULTS, new Date(WED));
    expect(backups.map((b) => b.id)).toEqual(before);
  });

  it.each([
    [{ dailyDays: -1, weeklyWeeks: 4 }],
    [{ dailyDays: 7, weeklyWeeks: 1.5 }],
    [{ dailyDays: Number.NaN, weeklyWeeks: 4 }],
    [{ dailyDays: 7, weeklyWeeks: Number.POSITIVE_INFINITY }],
  ])('rejects the policy %o', (policy) => {
    expect(() => planRetention([], policy, new Date(WED))).toThrow(RangeError);
  });

  it('rejects an invalid now or createdAt', () => {
    expect(() => planRetention([], DEFAULTS, new Date('nope'))).toThrow(RangeError);
    const bad = { id: 'x', createdAt: new Date(Number.NaN) };
    expect(() => planRetention([bad], DEFAULTS, new Date(WED))).toThrow(/backup x has an invalid createdAt/);
  });
});
