import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { startService, type RunningService } from './cli.js';

/** FleetSource is one entry of a SNAPKEEP_CONFIG file, as a test declares it. */
export interface FleetSource {
  name: string;
  host?: string;
  database?: string;
  schedule?: { hours: number } | { off: true };
}

/** writeSourcesFile writes SNAPKEEP_CONFIG: JSON is YAML 1.2, so no YAML writer is needed. */
export function writeSourcesFile(path: string, sources: readonly FleetSource[]): void {
  writeFileSync(path, `${JSON.stringify({ sources }, null, 2)}\n`);
}

/** createLabelledDatabase makes a WAL database whose `notes` rows all say `label`, so a restore tells whose it is. */
export function createLabelledDatabase(path: string, label: string, rows: number): void {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO notes (body) VALUES (?)');
    db.transaction(() => { for (let i = 0; i < rows; i++) insert.run(`${label} ${i}`); })();
  } finally {
    db.close();
  }
}

/** readBodies is every `notes.body` of a database, in id order. */
export function readBodies(path: string): string[] {
  const db = new Database(path, { fileMustExist: true });
  try {
    return db.prepare('SELECT body FROM notes ORDER BY id').pluck().all() as string[];
  } finally {
    db.close();
  }
}

/** startFleetService spawns `snapkeep api|worker|serve`, inside a network namespace when `exec` is an `ip netns exec NS` prefix. */
export const startFleetService = (role: 'api' | 'worker' | 'serve', env: Record<string, string>, exec: readonly string[] = []): Promise<RunningService> => startService(role, env, exec);

/** FleetAnswer is a status and a parsed JSON body. */
export interface FleetAnswer<T = unknown> {
  status: number;
  body: T;
}

/** FleetApi calls one API process with one token. */
export class FleetApi {
  constructor(readonly base: string, readonly token: string) {}

  /** as is this API with another token. */
  as(token: string): FleetApi {
    return new FleetApi(this.base, token);
  }

  async get<T = Record<string, unknown>>(path: string): Promise<FleetAnswer<T>> {
    const res = await fetch(`${this.base}${path}`, { headers: { authorization: `Bearer ${this.token}` } });
    return { status: res.status, body: (await res.json().catch(() => null)) as T };
  }

  async post<T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<FleetAnswer<T>> {
    const res = await fetch(`${this.base}${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as T };
  }

  /** job is `GET /api/jobs/:id`'s body (throws on another status). */
  async job(id: string): Promise<FleetJob> {
    const answer = await this.get<FleetJob>(`/api/jobs/${encodeURIComponent(id)}`);
    if (answer.status !== 200) throw new Error(`GET /api/jobs/${id} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  /** finished polls a job until it is completed or failed. */
  async finished(id: string, timeoutMs = 30_000): Promise<FleetJob> {
    return until(async () => {
      const job = await this.job(id);
      return job.state === 'completed' || job.state === 'failed' ? job : undefined;
    }, timeoutMs, `job ${id} to finish`);
  }
}

/** FleetJob is the slice of `GET /api/jobs/:id` the fleet tests read. */
export interface FleetJob {
  id: string;
  queue: string;
  source: string;
  state: string;
  result: Record<string, unknown> | null;
  failedReason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

/** until polls `probe` every 100 ms until it returns something other than undefined; throws after timeoutMs, naming `what`. */
export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** overlaps lists the pairs of [start, end] intervals that share a moment. */
export function overlaps(intervals: ReadonlyArray<{ id: string; start: number; end: number }>): string[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  const found: string[] = [];
  // The interval reaching furthest so far: a long one may overlap one that starts several later.
  let reach: (typeof sorted)[number] | undefined;
  for (const cur of sorted) {
    if (reach && cur.start < reach.end) found.push(`${reach.id} [${reach.start}, ${reach.end}] and ${cur.id} [${cur.start}, ${cur.end}]`);
    if (!reach || cur.end > reach.end) reach = cur;
  }
  return found;
}
