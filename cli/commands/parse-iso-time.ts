/**
 * A UTC date (`2026-11-20`, midnight UTC) or a date-time with an explicit zone (`2026-11-20T12:00:00Z`,
 * `…+01:00`). A time without a zone is refused: JavaScript would read it in the host's local time,
 * and retention is all UTC.
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * parseIsoTime reads `--at`: an ISO 8601 date or zoned date-time, returned as a Date, or null when
 * the text is not one. `Date.parse` alone would take `1` for 2001 and roll `2026-02-31` into March.
 */
export function parseIsoTime(text: string): Date | null {
  const m = ISO_TIME.exec(text);
  if (!m) return null;
  const part = (i: number): number => Number(m[i] ?? 0);
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map(part) as [number, number, number, number, number, number];
  const civil = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC rolls day 31 of a 30-day month into the next; the round trip catches it.
  if (civil.getUTCFullYear() !== year || civil.getUTCMonth() !== month - 1 || civil.getUTCDate() !== day) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const zone = m[7];
  if (zone !== undefined && zone !== 'Z' && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59)) return null;
  const at = new Date(text.length === 10 ? `${text}T00:00:00Z` : text);
  return Number.isNaN(at.getTime()) ? null : at;
}
