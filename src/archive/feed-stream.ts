import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { SnapkeepError } from '../errors.js';
import { streamArchivePath } from './archive-paths.js';
import { runStreamCommand } from './run-stream-command.js';

/** StreamFeed is a restored stream and the command that takes it back: `backup apply` pipes `from` into restoreCommand. */
export interface StreamFeed {
  name: string;
  /** The restored member, `{restore dir}/streams/{name}`. */
  from: string;
  restoreCommand: readonly string[];
}

/**
 * streamFeeds pairs each of the source's streams that has a restoreCommand with its member in a
 * verified restore directory. A stream the archive does not hold is refused before anything
 * changes: applying the rest would leave that data silently old.
 */
export async function streamFeeds(restoredDir: string, streams: ReadonlyArray<{ name: string; restoreCommand?: readonly string[] }>): Promise<StreamFeed[]> {
  const feeds: StreamFeed[] = [];
  for (const stream of streams) {
    if (!stream.restoreCommand) continue;
    const from = join(restoredDir, streamArchivePath(stream.name));
    const info = await lstat(from).catch(() => null);
    if (!info?.isFile()) throw new SnapkeepError('apply_refused', `stream ${JSON.stringify(stream.name)}: the backup holds no streams/${stream.name} to feed its restoreCommand`);
    feeds.push({ name: stream.name, from, restoreCommand: stream.restoreCommand });
  }
  return feeds;
}

/**
 * feedStream pipes a restored stream into its restoreCommand (argv, no shell, the application
 * commands' environment) and resolves when the command exits 0; otherwise it throws naming the
 * stream (run-stream-command.ts). The member is opened without following a link.
 */
export async function feedStream(feed: StreamFeed, options: { env: Record<string, string>; signal?: AbortSignal }): Promise<void> {
  const file = await open(feed.from, constants.O_RDONLY | constants.O_NOFOLLOW);
  // The stream closes the file when it ends or is destroyed.
  const stdin = file.createReadStream({ highWaterMark: 1024 * 1024 });
  try {
    await runStreamCommand({ name: feed.name, role: 'restoreCommand', argv: feed.restoreCommand }, { env: options.env, stdin, ...(options.signal ? { signal: options.signal } : {}) });
  } finally {
    stdin.destroy();
  }
}
