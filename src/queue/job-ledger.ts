import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * JobLedger is a worker host's own record of the signed jobs it has run, in STATE_DIR/jobs.db
 * (never in Redis, which an intruder may write). A signature proves who made a job, not that it has
 * not run before: with the ledger a completed job is never run again (a replay: BullMQ's
 * `job.retry()`, or the same signed data added again), whatever Redis says of its attempts, while
 * a job whose attempt failed or died midway may run again (a genuine retry). A scheduler slot is
 * recorded by its time, so copies of the schedule template under other slot ids close together
 * are refused. Entries older than the jobs' validity are dropped: older jobs are refused anyway.
 */
export type LedgerVerdict = 'first' | 'retry' | 'replay' | 'duplicate-slot';

export class JobLedger {
  private readonly db: Database.Database;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(stateDir, 'jobs.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS jobs (
      key TEXT PRIMARY KEY,
      scheduler TEXT,
      slot INTEGER,
      state TEXT NOT NULL CHECK (state IN ('started', 'failed', 'completed')),
      at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS jobs_slots ON jobs (scheduler, slot)`);
  }

  /**
   * begin records that the job `key` (its id and signature) starts, and says whether it may:
   * `first` and `retry` may run; `replay` (it completed before) and `duplicate-slot` (another slot
   * of the same scheduler within `slotSpacingMs`) may not.
   */
  begin(key: string, now: number, slot?: { scheduler: string; at: number; spacingMs: number }): LedgerVerdict {
    return this.db.transaction((): LedgerVerdict => {
      const row = this.db.prepare<[string], { state: string }>('SELECT state FROM jobs WHERE key = ?').get(key);
      if (row?.state === 'completed') return 'replay';
      if (!row && slot) {
        const near = this.db.prepare<[string, number, number], { n: number }>(
          "SELECT count(*) AS n FROM jobs WHERE scheduler = ? AND slot > ? AND slot < ? AND state != 'failed'",
        ).get(slot.scheduler, slot.at - slot.spacingMs, slot.at + slot.spacingMs);
        if ((near?.n ?? 0) > 0) return 'duplicate-slot';
      }
      this.db.prepare('INSERT INTO jobs (key, scheduler, slot, state, at) VALUES (?, ?, ?, \'started\', ?) ON CONFLICT (key) DO UPDATE SET state = \'started\', at = excluded.at')
        .run(key, slot?.scheduler ?? null, slot?.at ?? null, now);
      return row ? 'retry' : 'first';
    })();
  }

  /** finish records how the attempt ended. */
  finish(key: string, outcome: 'completed' | 'failed', now: number): void {
    this.db.prepare('UPDATE jobs SET state = ?, at = ? WHERE key = ?').run(outcome, now, key);
  }

  /** forget drops entries last touched before `before` (ms). */
  forget(before: number): void {
    this.db.prepare('DELETE FROM jobs WHERE at < ?').run(before);
  }

  close(): void {
    this.db.close();
  }
}
