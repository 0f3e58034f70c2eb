/**
 * DESIGN's retention definition ("Schedule and retention") written out a second time, for tests: it
 * shares no code with src/retention, works on windows as [start, end) instants instead of day counts,
 * and finds ISO weeks by "week 1 holds 4 January", so a mistake in one is unlikely in the other.
 */

const DAY = 86_400_000;
const ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[0-9a-f]{8}$/;

/** ExpectedRetention is what a prune should report: kept ids with their reasons, deleted ids, newest first. */
export interface ExpectedRetention {
  kept: string[];
  deleted: string[];
  reasons: Record<string, string[]>;
  /** True when a safety rail (or both rules off) held back backups the rules would delete. */
  skipped: boolean;
}

/** timeOfId is the UTC instant a backup id names. */
export function timeOfId(id: string): number {
  const m = ID.exec(id);
  if (!m) throw new Error(`not a backup id: ${id}`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** isoWeekLabelOf is `YYYY-Www` for the week that starts on the Monday at `monday` (UTC midnight). */
function isoWeekLabelOf(monday: number): string {
  const year = new Date(monday + 3 * DAY).getUTCFullYear(); // the week's Thursday names its year
  const jan4 = Date.UTC(year, 0, 4);
  const week1 = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY;
  return `${year}-W${String((monday - week1) / (7 * DAY) + 1).padStart(2, '0')}`;
}

/** expectedRetention plans a prune of `ids` as of `now` by the book. */
export function expectedRetention(
  ids: string[], now: Date, policy: { dailyDays: number; weeklyWeeks: number }, force = false,
): ExpectedRetention {
  const unique = [...new Set(ids)];
  const byNewest = (a: string, b: string): number => timeOfId(b) - timeOfId(a) || (a < b ? 1 : a > b ? -1 : 0);
  const past = unique.filter((id) => timeOfId(id) <= now.getTime()).sort(byNewest);
  const reasons = new Map<string, string[]>();
  const add = (id: string, reason: string): void => { reasons.set(id, [...(reasons.get(id) ?? []), reason]); };

  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const monday = today - ((now.getUTCDay() + 6) % 7) * DAY;
  const newestIn = (start: number, end: number): string | undefined =>
    past.find((id) => timeOfId(id) >= start && timeOfId(id) < end);
  for (let k = 0; k < policy.dailyDays; k++) {
    const start = today - k * DAY;
    const id = newestIn(start, start + DAY);
    if (id) add(id, `daily ${new Date(start).toISOString().slice(0, 10)}`);
  }
  for (let k = 0; k < policy.weeklyWeeks; k++) {
    const start = monday - 7 * k * DAY;
    const id = newestIn(start, start + 7 * DAY);
    if (id) add(id, `weekly ${isoWeekLabelOf(start)}`);
  }
  const anyInWindow = reasons.size > 0;
  for (const id of unique) if (timeOfId(id) > now.getTime()) add(id, 'future');
  if (past[0]) add(past[0], 'newest');

  const rest = unique.filter((id) => !reasons.has(id));
  let skipped = false;
  if (rest.length > 0 && policy.dailyDays === 0 && policy.weeklyWeeks === 0) {
    skipped = true;
    for (const id of rest) add(id, 'retention disabled');
  } else if (rest.length > 0 && !anyInWindow && !force) {
    skipped = true;
    for (const id of rest) add(id, 'safety rail');
  }
  const sorted = [...unique].sort(byNewest);
  return {
    kept: sorted.filter((id) => reasons.has(id)),
    deleted: sorted.filter((id) => !reasons.has(id)),
    reasons: Object.fromEntries(sorted.filter((id) => reasons.has(id)).map((id) => [id, reasons.get(id)!])),
    skipped,
  };
}
