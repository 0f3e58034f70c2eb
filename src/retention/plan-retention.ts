import type { RetentionPolicy } from '../config/config.js';
import { epochDay, isoMondayEpochDay, isoWeekLabel, utcDay } from './calendar.js';

/** RetentionCandidate is one backup as retention sees it: its id and when its snapshot was taken. */
export interface RetentionCandidate {
  id: string;
  createdAt: Date;
}

/**
 * KeptBackup is a backup the plan keeps, with every rule that kept it, in this order:
 * `daily YYYY-MM-DD`, `weekly YYYY-Www`, `future`, `newest`, `before-anomaly`, then the holds that apply only when
 * nothing else kept it: `retention disabled` (both rules off) or `safety rail` (no backup in any window).
 */
export interface KeptBackup {
  id: string;
  reasons: string[];
}

/** RetentionPlan is what a prune should do: both lists newest first, each id exactly once. */
export interface RetentionPlan {
  keep: KeptBackup[];
  delete: string[];
  /** Why backups that the rules would delete are kept anyway; set only when that held something back. */
  skippedReason?: string;
}

/** PlanRetentionOptions: `force` prunes even when no backup falls in any window (backups have stopped). */
export interface PlanRetentionOptions {
  force?: boolean;
  /**
   * Backups flagged as anomalous and not yet accepted (issue 16), whether still stored or not: for
   * each, the newest other backup taken before it is kept as `before-anomaly`, however old.
   */
  anomalies?: ReadonlyArray<RetentionCandidate>;
}

interface Entry {
  id: string;
  createdAt: Date;
  time: number;
}

/**
 * planRetention decides which backups a prune keeps and deletes as of `now`, all in UTC (DESIGN,
 * "Schedule and retention"). It is pure: no I/O and no clock, so a dry run and the real prune agree.
 *
 * - For each of the N = `dailyDays` calendar days ending with `now`'s day, the newest backup of that day stays.
 * - For each of the M = `weeklyWeeks` ISO weeks ending with `now`'s week, the newest backup of that week stays.
 *   The windows are calendar days and weeks, not "the last N backups": a day without backups keeps nothing.
 * - Backups later than `now` (clock skew) stay and take part in no day or week.
 * - The newest backup at or before `now` is never deleted, so clock skew cannot leave only
 *   future-stamped backups; with every backup later than `now`, all stay as `future`.
 * - N = 0 or M = 0 switches that rule off; with both 0 nothing is deleted.
 * - When no backup falls in any window, nothing is deleted and `skippedReason` says why, unless `force`.
 * - For each anomaly in `options.anomalies`, the newest backup taken before it that is not itself
 *   flagged stays as `before-anomaly`: the last good copy outlives the emptied database's backups.
 *
 * "Newest" orders by `createdAt`, then by id (lexicographically) when several backups share a
 * time, so the outcome never depends on input order. Duplicate ids count once, at their latest time.
 *
 * @throws RangeError when `now` or a `createdAt` is an invalid Date, or a policy count is not a whole number ≥ 0.
 */
export function planRetention(
  backups: ReadonlyArray<RetentionCandidate>,
  policy: RetentionPolicy,
  now: Date,
  options: PlanRetentionOptions = {},
): RetentionPlan {
  const dailyDays = checkCount('dailyDays', policy.dailyDays);
  const weeklyWeeks = checkCount('weeklyWeeks', policy.weeklyWeeks);
  const nowTime = now.getTime();
  if (Number.isNaN(nowTime)) throw new RangeError('planRetention: now is an invalid date');

  const entries = newestFirst(backups);
  const reasons = new Map<string, string[]>();
  const keepFor = (id: string, reason: string): void => {
    const list = reasons.get(id);
    if (list) list.push(reason);
    else reasons.set(id, [reason]);
  };

  // Walking newest first, the first backup met in a day or week is that day's or week's newest.
  const nowDay = epochDay(now);
  const nowMonday = isoMondayEpochDay(now);
  const daysFilled = new Set<number>();
  const weeksFilled = new Set<number>();
  for (const entry of entries) {
    if (entry.time > nowTime) continue;
    const day = epochDay(entry.createdAt);
    if (nowDay - day < dailyDays && !daysFilled.has(day)) {
      daysFilled.add(day);
      keepFor(entry.id, `daily ${utcDay(entry.createdAt)}`);
    }
    const monday = isoMondayEpochDay(entry.createdAt);
    if ((nowMonday - monday) / 7 < weeklyWeeks && !weeksFilled.has(monday)) {
      weeksFilled.add(monday);
      keepFor(entry.id, `weekly ${isoWeekLabel(entry.createdAt)}`);
    }
  }
  const anyInWindow = reasons.size > 0;

  for (const entry of entries) if (entry.time > nowTime) keepFor(entry.id, 'future');
  // "Newest" is the newest as of now: a backup stamped later by a skewed clock is kept as future
  // anyway, and must not leave the last real backup unprotected (a forced prune would delete it).
  const newest = entries.find((entry) => entry.time <= nowTime);
  if (newest) keepFor(newest.id, 'newest');
  keepBeforeAnomalies(entries, options.anomalies ?? [], keepFor);

  let skippedReason: string | undefined;
  const doomed = entries.filter((entry) => !reasons.has(entry.id));
  if (doomed.length > 0 && dailyDays === 0 && weeklyWeeks === 0) {
    skippedReason = 'retention disabled (0 daily days and 0 weekly weeks): nothing deleted';
    for (const entry of doomed) keepFor(entry.id, 'retention disabled');
  } else if (doomed.length > 0 && !anyInWindow && !options.force) {
    skippedReason = `no backup in the last ${windowsText(dailyDays, weeklyWeeks)}: backups may have stopped; nothing deleted (use --force to prune anyway)`;
    for (const entry of doomed) keepFor(entry.id, 'safety rail');
  }

  const plan: RetentionPlan = {
    keep: entries.filter((e) => reasons.has(e.id)).map((e) => ({ id: e.id, reasons: reasons.get(e.id)! })),
    delete: entries.filter((e) => !reasons.has(e.id)).map((e) => e.id),
  };
  if (skippedReason !== undefined) plan.skippedReason = skippedReason;
  return plan;
}

/**
 * keepBeforeAnomalies keeps, for each flagged backup, the newest unflagged backup strictly older
 * than it. A `force` does not lift it: only accepting the anomaly does.
 */
function keepBeforeAnomalies(entries: readonly Entry[], anomalies: ReadonlyArray<RetentionCandidate>, keepFor: (id: string, reason: string) => void): void {
  const flagged = new Set(anomalies.map((a) => a.id));
  const held = new Set<string>();
  for (const anomaly of anomalies) {
    const time = anomaly.createdAt.getTime();
    if (Number.isNaN(time)) throw new RangeError(`planRetention: anomaly ${anomaly.id} has an invalid createdAt`);
    const before = entries.find((e) => !flagged.has(e.id) && (e.time < time || (e.time === time && e.id < anomaly.id)));
    if (before && !held.has(before.id)) {
      held.add(before.id);
      keepFor(before.id, 'before-anomaly');
    }
  }
}

/** newestFirst validates, deduplicates by id (keeping the latest time) and sorts by time, then id, descending. */
function newestFirst(backups: ReadonlyArray<RetentionCandidate>): Entry[] {
  const byId = new Map<string, Entry>();
  for (const { id, createdAt } of backups) {
    const time = createdAt.getTime();
    if (Number.isNaN(time)) throw new RangeError(`planRetention: backup ${id} has an invalid createdAt`);
    const seen = byId.get(id);
    if (!seen || time > seen.time) byId.set(id, { id, createdAt, time });
  }
  return [...byId.values()].sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

function checkCount(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`planRetention: policy.${name} must be a whole number ≥ 0, got ${String(value)}`);
  }
  return value;
}

function windowsText(days: number, weeks: number): string {
  const parts: string[] = [];
  if (days > 0) parts.push(days === 1 ? '1 day' : `${days} days`);
  if (weeks > 0) parts.push(weeks === 1 ? '1 week' : `${weeks} weeks`);
  return parts.join(' or ');
}
