import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** CLI_PATH is the built executable the e2e tests drive, as a user would after `npm run build`. */
export const CLI_PATH = fileURLToPath(new URL('../../dist/cli/snapkeep.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * NEUTRAL_CWD is an empty directory every child process starts in unless a test names another:
 * snapkeep reads `.env` from its working directory, and the repository's own `.env` (which `npm
 * start` writes) must never reach a test.
 */
export const NEUTRAL_CWD = mkdtempSync(join(tmpdir(), 'snapkeep-cwd-'));

/** baseEnv is a clean environment: only PATH and HOME from the host, so no host setting leaks in. */
export function baseEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...extra };
}

/** runCli runs `snapkeep …` to completion. */
export function runCli(args: string[], env: Record<string, string>, options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: baseEnv(env), cwd: options.cwd ?? NEUTRAL_CWD, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`snapkeep ${args.join(' ')} timed out\n${stderr}`)); }, options.timeoutMs ?? 120_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** RunningService is a `snapkeep serve|api|worker` child process. */
export interface RunningService {
  child: ChildProcess;
  /** Everything it logged so far. */
  logs(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * startService spawns a long-running role and waits for its "snapkeep started" log line; `exec` is a
 * command prefix such as `ip netns exec NS` (ip execs node in place, so the pid and signals are node's).
 */
export async function startService(role: 'serve' | 'api' | 'worker', env: Record<string, string>, exec: readonly string[] = []): Promise<RunningService> {
  const argv = [...exec, process.execPath, CLI_PATH, role];
  const child = spawn(argv[0]!, argv.slice(1), { env: baseEnv(env), cwd: NEUTRAL_CWD, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Never leave a service (and its embedded Redis) running after the test process is gone.
  const reap = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  const deadline = Date.now() + 30_000;
  while (!output.includes('snapkeep started')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`snapkeep ${role} exited with ${child.exitCode ?? child.signalCode}:\n${output}`);
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`snapkeep ${role} did not start:\n${output}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    logs: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
