/**
 * UTC calendar arithmetic for retention: calendar days and ISO 8601 weeks (Monday first, ISO
 * week-year). Everything works on whole days counted from the Unix epoch, so no local time zone and
 * no daylight-saving shift can ever move a backup into another day.
 */

/** MS_PER_DAY is the length of one UTC day; UTC has no DST and JavaScript time ignores leap seconds. */
export const MS_PER_DAY = 86_400_000;

/** IsoWeek is an ISO 8601 week: its ISO week-year (which can differ from the calendar year) and number 1–53. */
export interface IsoWeek {
  year: number;
  week: number;
}

/** epochDay is the number of whole UTC days between 1970-01-01 and the date (negative before it). */
export function epochDay(date: Date): number {
  return Math.floor(validTime(date) / MS_PER_DAY);
}

/** isoMondayEpochDay is the epoch day of the Monday that starts the date's ISO week. */
export function isoMondayEpochDay(date: Date): number {
  const day = epochDay(date);
  // 1970-01-01 was a Thursday, three days after a Monday; the double modulo keeps pre-1970 days positive.
  return day - (((day + 3) % 7) + 7) % 7;
}

/** utcDay is the date's UTC calendar day as `YYYY-MM-DD`. */
export function utcDay(date: Date): string {
  validTime(date);
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}`;
}

/** isoWeek is the ISO 8601 week the date's UTC day falls in. */
export function isoWeek(date: Date): IsoWeek {
  // An ISO week belongs to the year its Thursday falls in, and week 1 holds the year's first Thursday.
  const thursday = new Date((isoMondayEpochDay(date) + 3) * MS_PER_DAY);
  const year = thursday.getUTCFullYear();
  const dayOfYear = Math.round((thursday.getTime() - Date.UTC(year, 0, 1)) / MS_PER_DAY);
  return { year, week: Math.floor(dayOfYear / 7) + 1 };
}

/** isoWeekLabel is the date's ISO week written `YYYY-Www`, e.g. `2026-W53`. */
export function isoWeekLabel(date: Date): string {
  const { year, week } = isoWeek(date);
  return `${pad(year, 4)}-W${pad(week, 2)}`;
}

function validTime(date: Date): number {
  const time = date.getTime();
  if (Number.isNaN(time)) throw new RangeError('invalid date');
  return time;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
