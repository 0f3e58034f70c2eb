import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SnapkeepError } from '../errors.js';

/** StreamCommand is one of a stream's commands: the stream's name, which it is, and its argv. */
export interface StreamCommand {
  name: string;
  /** How messages call it: `command` (a backup reads its stdout) or `restoreCommand` (apply feeds its stdin). */
  role: 'command' | 'restoreCommand';
  argv: readonly string[];
}

/** RunStreamOptions: the environment (never snapkeep's own settings), the job's signal, and the command's input or output. */
export interface RunStreamOptions {
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Called with each chunk of stdout, one at a time: the next is read only once it resolves (backpressure). Absent: stdout is discarded. */
  onStdout?: (chunk: Buffer) => Promise<void>;
  /** Written to the command's stdin. Absent: stdin is closed. */
  stdin?: Readable;
}

/** More on stderr than this is a command gone wrong (or a dump sent to the wrong stream); it is stopped. */
export const STDERR_LIMIT = 64 * 1024;
// What is kept of stderr for the failure message: its first line comes from here.
const STDERR_KEPT = 4 * 1024;
const KILL_GRACE_MS = 5000;
const SHOWN_LINE_CHARS = 300;
// How a pipe ends when the command stops reading: its exit status says whether that was a failure.
const CLOSED_BY_READER = new Set(['EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED']);

interface Exit { code: number | null; signal: NodeJS.Signals | null; startError?: NodeJS.ErrnoException }

/**
 * runStreamCommand runs one of a stream's commands without a shell and resolves when it exits 0,
 * having handed its stdout to onStdout or fed it stdin. Any other end (it cannot be started, a
 * non-zero status, a signal, more than STDERR_LIMIT on stderr) throws `command_failed` naming the
 * stream and quoting the first line of stderr, never the argv (it may carry a password). An
 * aborted signal, or a failing onStdout, stops the command (SIGTERM, then SIGKILL) before this throws.
 */
export async function runStreamCommand(stream: StreamCommand, options: RunStreamOptions): Promise<void> {
  options.signal?.throwIfAborted();
  const [program, ...args] = stream.argv;
  if (program === undefined) throw failed(stream, 'is empty');
  // Its own process group (detached), so that stopping it stops what it started too: `sh -c 'a | b'`
  // killed alone would leave `a` holding the pipes open, and the job waiting on them.
  const child = spawn(program, args, {
    stdio: [options.stdin ? 'pipe' : 'ignore', options.onStdout ? 'pipe' : 'ignore', 'pipe'], env: options.env, shell: false, detached: true,
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, startError: error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const stop = stopper(child, exited);
  const stderr = collectStderr(child.stderr!, stop);
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    const fed = options.stdin ? pipeline(options.stdin, child.stdin!).then(() => undefined, (error: unknown) => error) : undefined;
    try {
      if (options.onStdout) for await (const chunk of child.stdout!) await options.onStdout(chunk as Buffer);
    } catch (error) {
      stop();
      // A command that could not be started closes its pipes early: that, not the read, is the reason.
      if ((await exited).startError === undefined) throw error;
    }
    const exit = await exited;
    options.signal?.throwIfAborted();
    const how = describeFailure(stream, exit, stderr.overflowed());
    if (how !== undefined) throw failed(stream, how, stderr.firstLine());
    const feedError = await fed;
    if (feedError !== undefined && !CLOSED_BY_READER.has((feedError as NodeJS.ErrnoException).code ?? '')) throw feedError;
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
}

/** collectStderr keeps the start of stderr for the message and counts the rest; past the limit it calls onOverflow once. */
function collectStderr(stderr: Readable, onOverflow: () => void): { firstLine(): string; overflowed(): boolean } {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let total = 0;
  stderr.on('data', (chunk: Buffer) => {
    if (keptBytes < STDERR_KEPT) {
      const part = chunk.subarray(0, STDERR_KEPT - keptBytes);
      kept.push(part);
      keptBytes += part.length;
    }
    const before = total;
    total += chunk.length;
    if (before <= STDERR_LIMIT && total > STDERR_LIMIT) onOverflow();
  });
  return {
    firstLine: () => {
      const line = Buffer.concat(kept).toString('utf8').split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
      return line.length > SHOWN_LINE_CHARS ? `${line.slice(0, SHOWN_LINE_CHARS)}…` : line;
    },
    overflowed: () => total > STDERR_LIMIT,
  };
}

/** describeFailure says how the command failed, or undefined when it succeeded. */
function describeFailure(stream: StreamCommand, exit: Exit, stderrOverflowed: boolean): string | undefined {
  if (exit.startError) {
    const why = exit.startError.code === 'ENOENT' ? `${stream.argv[0]} not found` : exit.startError.message;
    return `could not be started: ${why}`;
  }
  if (stderrOverflowed) return `wrote more than ${STDERR_LIMIT / 1024} KiB to stderr and was stopped`;
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  if (exit.code !== 0) return `exited with status ${exit.code}`;
  return undefined;
}

/**
 * stopper returns a function that asks the command's process group to end (SIGTERM) and makes sure
 * it does (SIGKILL a few seconds later); calling it again, or after the command exited, does nothing.
 */
function stopper(child: ChildProcess, exited: Promise<Exit>): () => void {
  let ended = false;
  let stopping = false;
  void exited.then(() => { ended = true; });
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // ESRCH: the group is gone already.
    }
  };
  return () => {
    if (ended || stopping) return;
    stopping = true;
    signalGroup('SIGTERM');
    const timer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
    void exited.then(() => clearTimeout(timer));
  };
}

const failed = (stream: StreamCommand, how: string, stderrLine = ''): SnapkeepError =>
  new SnapkeepError('command_failed', `stream ${JSON.stringify(stream.name)}: ${stream.role} ${how}${stderrLine === '' ? '' : `: ${stderrLine}`}`);
