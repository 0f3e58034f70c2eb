/**
 * API and queue load: wrk against the polling endpoints, and the time from POST /api/backups to
 * the job becoming active. All traffic goes to 127.0.0.1 and is bounded in time and count.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, sleep } from './processes.js';

export interface WrkResult {
  url: string;
  label: string;
  command: string;
  requestsPerSecond: number;
  /** Latency percentiles in milliseconds, from `--latency`: 50, 75, 90, 99. */
  latencyMs: Record<string, number>;
  requests: number;
  non2xx: number;
  socketErrors: string | null;
}

export interface WrkOptions {
  threads: number;
  connections: number;
  durationS: number;
}

/** runWrk loads url with wrk (a Lua script sets the Authorization header when a token is given). */
export async function runWrk(label: string, url: string, token: string | null, options: WrkOptions, workDir: string): Promise<WrkResult> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`load goes to 127.0.0.1 only, not ${url}`);
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.durationS}s`, '--latency', '--timeout', '5s'];
  if (token) {
    const script = join(workDir, 'wrk-auth.lua');
    // The token goes through a file, never the command line (ps would show it).
    writeFileSync(script, `wrk.headers["Authorization"] = "Bearer ${token}"\n`, { mode: 0o600 });
    args.push('-s', script);
  }
  args.push(url);
  const result = await run('wrk', args, { timeoutMs: (options.durationS + 30) * 1000 });
  if (result.code !== 0) throw new Error(`wrk failed: ${result.stderr}${result.stdout}`);
  return { ...parseWrk(result.stdout), url, label, command: `wrk ${args.join(' ').replace(/-s \S+/, '-s auth.lua')}` };
}

function parseWrk(out: string): Omit<WrkResult, 'url' | 'label' | 'command'> {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`cannot read wrk's output:\n${out}`);
  const latencyMs: Record<string, number> = {};
  const block = /Latency Distribution([\s\S]*?)\n\s*\d+ requests/.exec(out)?.[1] ?? '';
  for (const m of block.matchAll(/(\d+)%\s+([\d.]+)(us|ms|s)\b/g)) {
    const value = Number(m[2]);
    latencyMs[m[1]!] = m[3] === 'us' ? value / 1000 : m[3] === 's' ? value * 1000 : value;
  }
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors:[^\n]*/.exec(out)?.[0] ?? null;
  return { requestsPerSecond: Number(rps[1]), latencyMs, requests, non2xx, socketErrors };
}

export interface EnqueueLatency {
  count: number;
  /** POST sent (client clock) → job's processedOn (worker clock, same host), ms. */
  postToActiveMs: number[];
  /** job.timestamp (set by Queue.add in the API) → processedOn: the queue's own share, ms. */
  addToActiveMs: number[];
  /** POST round trip as the client saw it, ms. */
  postRoundTripMs: number[];
  /** Job wall, createdAt → finishedAt, ms (tiny database). */
  jobMs: number[];
  deduplicated: number;
}

interface JobView {
  state: string;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  failedReason: string | null;
}

/**
 * measureEnqueueToActive posts `count` backups one after another, each after the previous one has
 * completed, so every POST creates a new job (a POST while one waits or runs would join it) and
 * finds the worker idle, blocked on Redis: the case of a real request. A job's startedAt is BullMQ's
 * processedOn, stamped when the worker moves it to active.
 */
export async function measureEnqueueToActive(baseUrl: string, token: string, count: number): Promise<EnqueueLatency> {
  const out: EnqueueLatency = { count, postToActiveMs: [], addToActiveMs: [], postRoundTripMs: [], jobMs: [], deduplicated: 0 };
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  for (let i = 0; i < count; i++) {
    // Let the worker return to its blocking wait, as it would be between real requests.
    await sleep(20);
    const sent = Date.now();
    const t0 = performance.now();
    const res = await fetch(`${baseUrl}/api/backups`, { method: 'POST', headers, body: '{}' });
    out.postRoundTripMs.push(performance.now() - t0);
    if (res.status !== 202) throw new Error(`POST /api/backups answered ${res.status}: ${await res.text()}`);
    const accepted = (await res.json()) as { jobId: string; statusUrl: string; deduplicated: boolean };
    if (accepted.deduplicated) out.deduplicated++;
    const job = await waitForJob(baseUrl, accepted.statusUrl, token, 60_000, 10);
    if (job.state !== 'completed') throw new Error(`job ${accepted.jobId} ended ${job.state}: ${job.failedReason}`);
    const created = Date.parse(job.createdAt!);
    const active = Date.parse(job.startedAt!);
    out.postToActiveMs.push(active - sent);
    out.addToActiveMs.push(active - created);
    out.jobMs.push(Date.parse(job.finishedAt!) - created);
  }
  return out;
}

/** waitForJob polls GET statusUrl until the job completes or fails. */
export async function waitForJob(baseUrl: string, statusUrl: string, token: string, timeoutMs: number, pollMs: number): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${baseUrl}${statusUrl}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`GET ${statusUrl} answered ${res.status}: ${await res.text()}`);
    const job = (await res.json()) as JobView;
    if (job.state === 'completed' || job.state === 'failed') return job;
    if (Date.now() > deadline) throw new Error(`job at ${statusUrl} did not finish in ${timeoutMs} ms: ${JSON.stringify(job)}`);
    await sleep(pollMs);
  }
}

/**
 * probeWhile asks `url` one request at a time, every intervalMs, until stop(): the latencies (ms) a
 * client sees from a process that is busy with something else (the API of `serve` during a backup:
 * issue 17 asks that compression and encryption leave its event loop answering).
 */
export function probeWhile(url: string, intervalMs: number): { stop(): Promise<number[]> } {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const res = await fetch(url).catch(() => undefined);
      await res?.arrayBuffer().catch(() => undefined);
      if (res) latencies.push(performance.now() - started);
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return latencies;
    },
  };
}
