import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { SnapkeepError } from '../errors.js';
import { streamArchivePath } from './archive-paths.js';
import { runStreamCommand } from './run-stream-command.js';
import { writeAt } from './write-at.js';

/** StagedStream is a stream's stdout after staging: its bytes sit in the staging file at offset. */
export interface StagedStream {
  name: string;
  archivePath: string;
  offset: number;
  size: number;
  sha256: string;
  /** When the command finished: the member's time in the archive. */
  mtime: Date;
}

/** StreamSource is a stream as a backup needs it: its name and the argv whose stdout it stores. */
export interface StreamSource {
  name: string;
  command: readonly string[];
}

/** StageStreamsOptions: where in the staging file to start, the commands' environment, the job's signal. */
export interface StageStreamsOptions {
  offset: number;
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Called with the staging file's size as it grows, about every PROGRESS_STEP bytes. */
  onProgress?: (bytes: number) => void;
}

const PROGRESS_STEP = 8 * 1024 * 1024;

/**
 * stageStreams runs each stream's command in turn and appends its stdout to the staging file
 * (which stageSources created, mode 0600) from options.offset, hashing it on the way: the
 * manifest, which lists its size and SHA-256, must come first in the archive. Memory stays at a
 * pipe's chunk whatever the output's size: each chunk is on disk before the next is read.
 */
export async function stageStreams(streams: readonly StreamSource[], stagingPath: string, options: StageStreamsOptions): Promise<{ streams: StagedStream[]; bytes: number }> {
  if (streams.length === 0) return { streams: [], bytes: options.offset };
  const staged: StagedStream[] = [];
  let offset = options.offset;
  let reported = offset;
  const staging = await open(stagingPath, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    for (const stream of streams) {
      const archivePath = streamArchivePath(stream.name);
      const hash = createHash('sha256');
      let size = 0;
      await runStreamCommand({ name: stream.name, role: 'command', argv: stream.command }, {
        env: options.env,
        ...(options.signal ? { signal: options.signal } : {}),
        onStdout: async (chunk) => {
          hash.update(chunk);
          await writeAt(staging, chunk, offset + size).catch((error: unknown) => { throw stagingFailed(stream.name, error); });
          size += chunk.length;
          if (offset + size - reported >= PROGRESS_STEP) {
            reported = offset + size;
            options.onProgress?.(reported);
          }
        },
      });
      staged.push({ name: stream.name, archivePath, offset, size, sha256: hash.digest('hex'), mtime: new Date() });
      offset += size;
    }
    await staging.sync();
  } finally {
    await staging.close();
  }
  return { streams: staged, bytes: offset };
}

/** stagingFailed names the stream whose output could not be staged; a full disk says so. */
function stagingFailed(name: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new SnapkeepError('no_space', `stream ${JSON.stringify(name)}: no space left under STATE_DIR to stage its output`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
