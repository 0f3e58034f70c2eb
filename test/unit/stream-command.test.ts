import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { isSafeArchivePath, isStreamArchivePath, streamArchivePath } from '../../src/archive/archive-paths.js';
import { runStreamCommand, STDERR_LIMIT, type RunStreamOptions } from '../../src/archive/run-stream-command.js';
import { SnapkeepError } from '../../src/errors.js';
import { removeDir } from '../helpers/redis-server.js';

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const dir = mkdtempSync(join(tmpdir(), 'snapkeep-stream-command-'));
afterAll(() => removeDir(dir));

/** run runs `sh -c script` as stream "mail" and returns its stdout, or throws as the backup would. */
async function run(script: string, options: Partial<RunStreamOptions> = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await runStreamCommand({ name: 'mail', role: 'command', argv: ['sh', '-c', script] }, {
    env, onStdout: async (chunk) => { chunks.push(chunk); }, ...options,
  });
  return Buffer.concat(chunks);
}

async function failure(promise: Promise<unknown>): Promise<SnapkeepError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(SnapkeepError);
  return error as SnapkeepError;
}

describe('stream commands', () => {
  it('hands every byte of stdout over, in order', async () => {
    const out = await run('head -c 3000000 /dev/zero | tr "\\0" x; printf end');
    expect(out.length).toBe(3_000_003);
    expect(out.subarray(-3).toString()).toBe('end');
  });

  it('names the stream, the status and the first line of stderr when the command fails', async () => {
    const error = await failure(run('echo; echo boom >&2; echo second >&2; exit 3'));
    expect(error.message).toBe('stream "mail": command exited with status 3: boom');
    expect(error.code).toBe('command_failed');
    expect(error.retryable).toBe(false);
  });

  it('names a program that does not exist, and never shows the rest of the argv', async () => {
    const error = await failure(runStreamCommand({ name: 'db', role: 'command', argv: ['/nonexistent/cmd', '--password=hunter2'] }, { env, onStdout: async () => undefined }));
    expect(error.message).toBe('stream "db": command could not be started: /nonexistent/cmd not found');
  });

  it('stops a command that floods stderr, keeping only its first line', async () => {
    // `yes` never ends by itself: only the limit (and the process-group kill) ends it.
    const error = await failure(run('echo flood >&2; yes >&2'));
    expect(error.message).toBe(`stream "mail": command wrote more than ${STDERR_LIMIT / 1024} KiB to stderr and was stopped: flood`);
  });

  it('reports a command killed by a signal', async () => {
    expect((await failure(run('kill -9 $$'))).message).toBe('stream "mail": command was killed by SIGKILL');
  });

  it('stops the whole process group when the job is aborted, and throws the abort reason', async () => {
    const controller = new AbortController();
    const pidFile = join(dir, 'sleeper.pid');
    const running = run(`sleep 300 & echo $! > ${pidFile}; printf x; wait`, {
      signal: controller.signal,
      onStdout: async () => { controller.abort(new Error('job stopped')); },
    });
    await expect(running).rejects.toThrow('job stopped');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // Gone, or a zombie its new parent has yet to reap: either way no longer running.
    const state = (): string => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0]!; } catch { return 'gone'; } };
    expect(['gone', 'Z']).toContain(state());
  });

  it('stops the command when onStdout fails, and throws that failure', async () => {
    await expect(run('yes', { onStdout: async () => { throw new Error('disk full'); } })).rejects.toThrow('disk full');
  });

  it('feeds stdin to a restoreCommand and names it when it fails', async () => {
    const input = join(dir, 'input');
    writeFileSync(input, Buffer.alloc(2_000_000, 7));
    const output = join(dir, 'output');
    await runStreamCommand({ name: 'mail', role: 'restoreCommand', argv: ['sh', '-c', `cat > ${output}`] }, { env, stdin: Readable.from([readFileSync(input)]) });
    expect(sha256(readFileSync(output))).toBe(sha256(readFileSync(input)));
    const error = await failure(runStreamCommand({ name: 'mail', role: 'restoreCommand', argv: ['sh', '-c', 'cat >/dev/null; echo nope >&2; exit 2'] }, { env, stdin: Readable.from([Buffer.from('x')]) }));
    expect(error.message).toBe('stream "mail": restoreCommand exited with status 2: nope');
  });
});

describe('stream members in archive paths', () => {
  it('are one segment under streams/, never a path out of the restore', () => {
    expect(streamArchivePath('mail')).toBe('streams/mail');
    expect(() => streamArchivePath('../etc')).toThrow();
    expect(() => streamArchivePath('a/b')).toThrow();
    for (const bad of ['streams/..', 'streams/../x', 'streams/a/b', 'streams/.hidden', 'streams/', 'streams']) {
      expect(isSafeArchivePath(bad), bad).toBe(false);
      expect(isStreamArchivePath(bad), bad).toBe(false);
    }
    expect(isSafeArchivePath('streams/mail.tar')).toBe(true);
  });
});

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
