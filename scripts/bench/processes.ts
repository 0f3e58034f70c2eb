/**
 * Child processes of the benchmark: timed commands (wall time from spawn to exit, peak RSS from
 * `/usr/bin/time -v`), and the long-running servers it owns (S3, `snapkeep serve`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/redis-server.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI_PATH = join(REPO_ROOT, 'dist', 'cli', 'snapkeep.js');
/** How `npm start` (scripts/start.sh), the Dockerfile and the `snapkeep` command start Node for the service (cli/memory-settings.ts). */
export const SERVICE_NODE_ARGS = ['--max-semi-space-size=4'];
const TIME = '/usr/bin/time';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit, in milliseconds. */
  wallMs: number;
  /** Peak RSS in bytes ("Maximum resident set size" of /usr/bin/time -v), when measured. */
  peakRss?: number;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Wrap the command in /usr/bin/time -v and report its peak RSS. */
  measureRss?: boolean;
  timeoutMs?: number;
}

/** run runs a command to completion, capturing its output and timing it; it never throws on a non-zero exit. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeFile = options.measureRss ? join(options.cwd ?? REPO_ROOT, `.time-${process.pid}-${Date.now()}.txt`) : undefined;
  const [cmd, argv] = timeFile ? [TIME, ['-v', '-o', timeFile, command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, argv, { env: options.env ?? (process.env as Record<string, string>), cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = options.timeoutMs
      ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
      : undefined;
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (timer) clearTimeout(timer);
      const result: RunResult = { code, stdout, stderr, wallMs };
      if (timeFile) {
        try {
          const report = readFileSync(timeFile, 'utf8');
          const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
          if (kb) result.peakRss = Number(kb[1]) * 1024;
        } catch {
          // time did not write its report (the command could not start): no RSS figure.
        }
        rmSync(timeFile, { force: true });
      }
      resolve(result);
    });
  });
}

/** runOk is run that throws, with the command's output, when it exits non-zero. */
export async function runOk(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code}\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-2000)}`);
  }
  return result;
}

/** S3Child is the benchmark's S3 server process. */
export interface S3Child {
  endpoint: string;
  bucket: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * startS3Child starts scripts/bench/s3-server.ts in its own process, keeping objects under dataDir;
 * nodeArgs go to its node (`--cpu-prof` shows what the server spends on each upload).
 */
export async function startS3Child(dataDir: string, bucket: string, nodeArgs: string[] = []): Promise<S3Child> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(REPO_ROOT, 'scripts', 'bench', 's3-server.ts'), bucket], {
    cwd: REPO_ROOT,
    env: { ...process.env, TMPDIR: dataDir },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await firstLine(child, 30_000);
  const info = JSON.parse(line) as { endpoint: string; bucket: string };
  return {
    endpoint: info.endpoint,
    bucket: info.bucket,
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

/**
 * startS3rverCli starts s3rver as a user would (`s3rver -d DIR -p PORT --configure-bucket B`): its
 * own CLI, no signature-checking shims, and its request log on (one line per request, here into
 * {dataDir}/s3rver.log rather than a terminal). Issue 17 measured snapkeep against this and against
 * the wrapper (startS3Child) and got different ratios; the benchmark runs both to show why.
 */
export async function startS3rverCli(dataDir: string, bucket: string): Promise<S3Child> {
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const logFile = createWriteStream(join(dataDir, 's3rver.log'));
  const child = spawn(process.execPath, [join(REPO_ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js'),
    '-d', dataDir, '-a', '127.0.0.1', '-p', String(port), '--configure-bucket', bucket], { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.pipe(logFile);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('s3rver did not start in time')); }, 30_000);
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (!seen.includes('listening')) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stdout!.pipe(logFile);
      resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`s3rver exited with ${code} before it listened: ${seen}`)); });
  });
  return { endpoint: `http://127.0.0.1:${port}`, bucket, pid: child.pid!, stop: () => stopChild(child) };
}

function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('child did not start in time')); }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const end = buffered.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(buffered.slice(0, end));
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`child exited with ${code} before it started`)); });
  });
}

/** stopChild sends SIGTERM, then SIGKILL after 10 s, and waits for the exit. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

/** ServeChild is a `snapkeep serve` process. */
export interface ServeChild {
  pid: number;
  baseUrl: string;
  logs(): string;
  stop(): Promise<void>;
}

/** startServe runs `snapkeep serve` with env in cwd and waits for its "snapkeep started" line. */
export async function startServe(env: Record<string, string>, cwd: string, nodeArgs: string[] = []): Promise<ServeChild> {
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, ...nodeArgs, CLI_PATH, 'serve'], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer): void => {
    output += d.toString();
    // Logs of a long run are only needed to explain a failure: keep the tail.
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const baseUrl = `http://127.0.0.1:${env.PORT}`;
  const deadline = Date.now() + 30_000;
  // Ready once the API answers (LOG_LEVEL=warn hides the "snapkeep started" line).
  for (;;) {
    if (child.exitCode !== null) throw new Error(`snapkeep serve exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`snapkeep serve did not start:\n${output}`);
    }
    const answered = await fetch(`${baseUrl}/api/health`).then(() => true, () => false);
    if (answered) break;
    await sleep(50);
  }
  return {
    pid: child.pid!,
    baseUrl,
    logs: () => output,
    stop: () => stopChild(child),
  };
}

/** procStatus reads a field of /proc/PID/status in bytes (VmHWM, VmRSS), or undefined. */
export function procStatusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * resetPeakRss resets a process's VmHWM to its current RSS (`echo 5 > /proc/PID/clear_refs`, Linux
 * 4.0+), so the peak of one run can be read on its own; false when the kernel refuses.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
