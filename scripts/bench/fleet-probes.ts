/**
 * What the fleet benchmark (scripts/bench/fleet.ts) reads while a round runs: GET latency loops,
 * a process's CPU time and memory from /proc, Redis's INFO, and the backup and prune jobs BullMQ
 * kept (their created / started / finished times).
 */
import { readFileSync } from 'node:fs';
import { Queue, type JobType } from 'bullmq';

type JobState = JobType;
import type { Redis } from 'ioredis';
import { sleep } from './processes.js';

/** LatencySample is one request: when it started (performance.now()) and how long it took, in ms. */
export interface LatencySample { at: number; ms: number; status: number }

/** percentile by nearest rank; NaN for no samples. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

/** timedGet sends one GET (keep-alive, the body read to its end) and times it. */
export async function timedGet(url: string, token: string): Promise<LatencySample & { body: string }> {
  const at = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  return { at, ms: performance.now() - at, status: res.status, body };
}

/**
 * getLoop sends `count` GETs with `connections` of them in flight at once, each connection sending
 * its next request as soon as its previous answer is read (so with 1 connection: back to back).
 */
export async function getLoop(url: string, token: string, count: number, connections: number): Promise<{ samples: LatencySample[]; wallMs: number }> {
  const samples: LatencySample[] = [];
  let sent = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      const { body: _body, ...sample } = await timedGet(url, token);
      samples.push(sample);
    }
  };
  await Promise.all(Array.from({ length: connections }, lane));
  return { samples, wallMs: performance.now() - started };
}

/** getUntil runs `connections` back-to-back GET loops until stop() is called; it resolves with every sample. */
export function getUntil(url: string, token: string, connections: number): { stop(): Promise<LatencySample[]> } {
  const samples: LatencySample[] = [];
  let running = true;
  const lane = async (): Promise<void> => {
    while (running) {
      const { body: _body, ...sample } = await timedGet(url, token);
      samples.push(sample);
    }
  };
  const lanes = Promise.all(Array.from({ length: connections }, lane));
  return { async stop() { running = false; await lanes; return samples; } };
}

const CLOCK_TICK_S = 0.01; // USER_HZ is 100 on Linux x86-64 (getconf CLK_TCK)

/** cpuSeconds is a process's user + system CPU time so far, from /proc/PID/stat; NaN once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ": utime is field 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_S;
  } catch {
    return Number.NaN;
  }
}

/** memoryBytes reads VmRSS and VmHWM of /proc/PID/status. */
export function memoryBytes(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: field('VmRSS'), peak: field('VmHWM') };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

/** RedisFacts is what INFO says about memory and CPU, and how many keys there are. */
export interface RedisFacts { usedMemory: number; usedMemoryRss: number; usedMemoryPeak: number; cpuSeconds: number; keys: number; clients: number }

export async function redisFacts(redis: Redis): Promise<RedisFacts> {
  const info = await redis.info();
  const num = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return {
    usedMemory: num('used_memory'), usedMemoryRss: num('used_memory_rss'), usedMemoryPeak: num('used_memory_peak'),
    cpuSeconds: num('used_cpu_user') + num('used_cpu_sys'), keys: await redis.dbsize(), clients: num('connected_clients'),
  };
}

/** JobTimes is one finished job as BullMQ kept it (ms since the epoch, worker clocks: the same host here). */
export interface JobTimes {
  queue: string;
  source: string | undefined;
  /** When it was due: added, plus its delay (a scheduler's first slot has none). */
  dueAt: number;
  startedAt: number;
  finishedAt: number;
  state: 'completed' | 'failed';
  attempts: number;
  /** The job function's own figure (BackupResult.durationMs), when it reports one. */
  durationMs: number | undefined;
}

/** finishedJobs lists the completed and failed jobs of the named queues. */
export async function finishedJobs(redis: Redis, prefix: string, names: readonly string[]): Promise<JobTimes[]> {
  const out: JobTimes[] = [];
  for (const name of names) {
    const queue = new Queue(name, { connection: redis, prefix });
    try {
      for (const state of ['completed', 'failed'] as const) {
        for (const job of await queue.getJobs([state], 0, -1)) {
          if (!job) continue;
          const result = job.returnvalue as { durationMs?: number } | null;
          out.push({
            queue: name, source: (job.data as { source?: string }).source,
            dueAt: job.timestamp + (job.delay ?? 0), startedAt: job.processedOn ?? Number.NaN, finishedAt: job.finishedOn ?? Number.NaN,
            state, attempts: job.attemptsMade, durationMs: typeof result?.durationMs === 'number' ? result.durationMs : undefined,
          });
        }
      }
    } finally {
      await queue.close();
    }
  }
  return out;
}

/**
 * waitUntilDrained waits until none of the named queues has a job in any of `states` (a backup
 * queue always holds each scheduler's next slot, delayed: leave `delayed` out for it); false on timeout.
 */
export async function waitUntilDrained(redis: Redis, prefix: string, watched: ReadonlyArray<{ name: string; states: JobState[] }>, timeoutMs: number): Promise<boolean> {
  const queues = watched.map(({ name, states }) => ({ queue: new Queue(name, { connection: redis, prefix }), states }));
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const counts = await Promise.all(queues.map(({ queue, states }) => queue.getJobCounts(...states)));
      if (counts.every((c) => Object.values(c).every((n) => n === 0))) return true;
      await sleep(100);
    }
    return false;
  } finally {
    await Promise.all(queues.map(({ queue }) => queue.close()));
  }
}

/** maxInFlight is the most intervals [start, end) open at one instant. */
export function maxInFlight(jobs: readonly JobTimes[]): number {
  const edges = jobs.flatMap((j) => [[j.startedAt, 1], [j.finishedAt, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (open += d));
  return most;
}
