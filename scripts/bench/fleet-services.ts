/**
 * The fleet benchmark's fixtures and processes: small SQLite databases, the SNAPKEEP_CONFIG file of
 * a fleet (every source pinned to one of the hosts, or none pinned), and `snapkeep api` / `worker`
 * processes with their output in a log file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CLI_PATH, SERVICE_NODE_ARGS, run, sleep, stopChild } from './processes.js';

/** FleetShape: `pinned` puts source i on host i mod hosts (25 each of 100 on 4); `shared` pins none (one shared queue). */
export type FleetShape = 'pinned' | 'shared';

export const sourceName = (i: number): string => `src-${String(i + 1).padStart(3, '0')}`;

/**
 * makeFleetDatabases makes `count` small databases in dir (reused when there): a table of `rows`
 * rows of a timestamp, a kind and about 150 bytes of text each, with an index, as a small app keeps.
 */
export function makeFleetDatabases(dir: string, count: number, rows: number): string[] {
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = join(dir, `${sourceName(i)}.db`);
    paths.push(path);
    if (existsSync(path)) continue;
    const db = new Database(path);
    try {
      db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL)');
      db.exec(`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${rows})
        INSERT INTO events (at, kind, body) SELECT datetime('now', '-' || x || ' minutes'), 'kind-' || (x % 7), hex(randomblob(75)) FROM n`);
      db.exec('CREATE INDEX events_at ON events (at)');
    } finally {
      db.close();
    }
  }
  return paths;
}

/** writeSourcesFile writes the YAML of the fleet: every source backed up every hour, as the benchmark asks. */
export function writeSourcesFile(path: string, shape: FleetShape, databases: readonly string[], hosts: readonly string[]): void {
  const lines = ['sources:'];
  databases.forEach((database, i) => {
    lines.push(`  - name: ${sourceName(i)}`);
    if (shape === 'pinned') lines.push(`    host: ${hosts[i % hosts.length]}`);
    lines.push(`    database: ${JSON.stringify(database)}`, '    schedule: {hours: 1}');
  });
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** Service is a running `snapkeep api` or `snapkeep worker`. */
export interface Service {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// Whatever path the benchmark leaves by, no service outlives it.
process.once('exit', () => { for (const child of running) child.kill('SIGKILL'); });

/**
 * startService spawns `snapkeep ROLE` with env in cwd (not the repository: snapkeep reads `.env`
 * from its working directory), its stdout and stderr appended to logFile; nodeArgs go to its node
 * (`--cpu-prof`).
 */
export function startService(name: string, role: 'api' | 'worker', env: Record<string, string>, cwd: string, logFile: string, nodeArgs: readonly string[] = []): Service {
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, ...nodeArgs, CLI_PATH, role], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  running.add(child);
  child.once('exit', () => { running.delete(child); log.end(); });
  return { name, pid: child.pid!, child, logFile, stop: () => stopChild(child) };
}

/** waitForApi waits until the API answers GET /api/health (200 or 503), or throws with its log. */
export async function waitForApi(service: Service, baseUrl: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service.child.exitCode !== null) throw new Error(`${service.name} exited with ${service.child.exitCode}:\n${tail(service.logFile)}`);
    if (await fetch(`${baseUrl}/api/health`).then(() => true, () => false)) return;
    if (Date.now() > deadline) throw new Error(`${service.name} did not answer in ${timeoutMs} ms:\n${tail(service.logFile)}`);
    await sleep(50);
  }
}

/** createToken makes a superadmin token with the API process's settings (its STATE_DIR, Redis and key). */
export async function createToken(env: Record<string, string>, cwd: string): Promise<string> {
  const created = await run(process.execPath, [CLI_PATH, 'token', 'create', '--name', 'bench-fleet', '--role', 'superadmin'], { env, cwd });
  if (created.code !== 0) throw new Error(`token create failed: ${created.stderr.slice(-3000)}`);
  return created.stdout.trim();
}

/** logProblems are the warn and error lines of a JSON log, counted by message. */
export function logProblems(logFile: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(logFile)) return out;
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let entry: { level?: string; message?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      entry = { level: 'raw', message: line.slice(0, 200) };
    }
    if (entry.level === 'info' || entry.level === 'debug') continue;
    const key = `${entry.level}: ${entry.message}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

export function tail(logFile: string, chars = 3000): string {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-chars) : '(no log)';
}
