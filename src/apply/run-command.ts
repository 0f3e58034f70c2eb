import { spawn } from 'node:child_process';
import { SnapkeepError } from '../errors.js';
import type { Logger } from '../logging/create-logger.js';
import { formatCommandLine } from './command-line.js';

/** COMMAND_TIMEOUT_MS bounds a stop or start command: systemd's own default stop timeout is 90 s. */
export const COMMAND_TIMEOUT_MS = 120_000;
// What a failure message quotes of the command's output: its last lines, enough to say why.
const OUTPUT_TAIL_CHARS = 600;
const KILL_GRACE_MS = 5000;

/**
 * runCommand runs argv without a shell (stdin closed, output collected), and resolves when it
 * exits 0. Any other end (not found, a non-zero status, a signal, COMMAND_TIMEOUT_MS passed)
 * throws `command_failed` naming the command and quoting the end of its output.
 */
export async function runCommand(argv: readonly string[], options: { env: Record<string, string>; logger: Logger; timeoutMs?: number }): Promise<void> {
  const shown = formatCommandLine(argv);
  options.logger.info('running command', { command: shown });
  let output = '';
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error; timedOut: boolean }>((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: options.env, stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    const collect = (chunk: Buffer): void => { output = (output + chunk.toString('utf8')).slice(-4 * OUTPUT_TAIL_CHARS); };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
    }, options.timeoutMs ?? COMMAND_TIMEOUT_MS);
    child.once('error', (error) => { clearTimeout(timer); resolve({ code: null, signal: null, error, timedOut }); });
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, timedOut }); });
  });
  const tail = output.trim().slice(-OUTPUT_TAIL_CHARS);
  if (outcome.code === 0 && !outcome.timedOut) {
    if (tail !== '') options.logger.info('command finished', { command: shown, output: tail });
    return;
  }
  const how = outcome.error
    ? ((outcome.error as NodeJS.ErrnoException).code === 'ENOENT' ? `could not be run: ${argv[0]} not found` : `could not be run: ${outcome.error.message}`)
    : outcome.timedOut ? `did not finish within ${Math.round((options.timeoutMs ?? COMMAND_TIMEOUT_MS) / 1000)} s and was killed`
      : outcome.signal ? `was killed by ${outcome.signal}` : `exited with status ${outcome.code}`;
  throw new SnapkeepError('command_failed', `\`${shown}\` ${how}${tail === '' ? '' : `: ${tail.replace(/\s*\n\s*/g, ' | ')}`}`);
}
