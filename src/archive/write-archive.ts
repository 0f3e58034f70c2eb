import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import tar, { type Header, type Pack } from 'tar-stream';
import { SnapkeepError } from '../errors.js';
import { MANIFEST_NAME } from './archive-paths.js';
import type { DatabaseSnapshot } from './build-manifest.js';
import { serializeManifest, type AnyArchiveManifest } from './manifest.js';
import type { StagedEntry } from './stage-sources.js';
import type { StagedStream } from './stage-streams.js';
import { waitForDrain } from './wait-for-drain.js';

/** ArchiveContent is everything an archive is written from; file bytes stay on disk until streamed. */
export interface ArchiveContent {
  manifest: AnyArchiveManifest;
  /** Absent for an archive of only directories and streams. */
  database?: DatabaseSnapshot;
  stagingPath: string;
  entries: readonly StagedEntry[];
  streams?: readonly StagedStream[];
}

const READ_CHUNK = 1024 * 1024;

/** Headers is what tar-stream takes for an entry: a name, the rest optional. */
type Headers = Partial<Header> & { name: string };

/**
 * writeArchive streams the tar archive: `manifest.json`, then the database snapshot (if any), then
 * every staged entry (directories, symlinks as links, files from the staging file), then each
 * stream's stdout (from the staging file too). Bytes are hashed
 * again as they go out, so staging that changed under us fails the backup instead of storing an
 * archive that would fail its own restore.
 */
export function writeArchive(content: ArchiveContent): Readable {
  const pack = tar.pack();
  void fill(pack, content).then(() => pack.finalize(), (error: unknown) => pack.destroy(error instanceof Error ? error : new Error(String(error))));
  // tar-stream's streams are streamx streams; the async iterator makes a Node stream of them.
  return Readable.from(pack, { objectMode: false, highWaterMark: READ_CHUNK });
}

/** tarSizeEstimate is the archive's size within a few hundred bytes (long names add PAX headers), for progress. */
export function tarSizeEstimate(content: Pick<ArchiveContent, 'database' | 'entries' | 'streams'>, manifestBytes: number): number {
  const padded = (n: number): number => 512 + Math.ceil(n / 512) * 512;
  const members = [...content.entries, ...(content.streams ?? [])];
  return padded(manifestBytes) + (content.database ? padded(content.database.size) : 0) + members.reduce((sum, e) => sum + padded(e.size), 0) + 1024;
}

async function fill(pack: Pack, content: ArchiveContent): Promise<void> {
  const { database, manifest, stagingPath } = content;
  await addBuffer(pack, { name: MANIFEST_NAME, mode: 0o600, mtime: new Date(manifest.createdAt) }, serializeManifest(manifest));
  if (database) {
    await addStream(pack, { name: database.archivePath, mode: 0o600, size: database.size, mtime: database.mtime },
      createReadStream(database.file, { highWaterMark: READ_CHUNK }), database.sha256);
  }
  for (const entry of content.entries) {
    const header: Headers = { name: entry.archivePath, mode: entry.mode, mtime: entry.mtime };
    if (entry.type === 'directory') await addBuffer(pack, { ...header, type: 'directory' }, null);
    else if (entry.type === 'symlink') await addBuffer(pack, { ...header, type: 'symlink', linkname: entry.linkTarget ?? '' }, null);
    else await addStaged(pack, header, stagingPath, { offset: entry.offset ?? 0, size: entry.size, sha256: entry.sha256! });
  }
  for (const stream of content.streams ?? []) {
    await addStaged(pack, { name: stream.archivePath, mode: 0o600, mtime: stream.mtime }, stagingPath, stream);
  }
}

/** addStaged adds a file whose bytes sit in the staging file at offset. */
async function addStaged(pack: Pack, header: Headers, stagingPath: string, staged: { offset: number; size: number; sha256: string }): Promise<void> {
  if (staged.size === 0) return addBuffer(pack, { ...header, type: 'file' }, Buffer.alloc(0));
  const body = createReadStream(stagingPath, { start: staged.offset, end: staged.offset + staged.size - 1, highWaterMark: READ_CHUNK });
  await addStream(pack, { ...header, type: 'file', size: staged.size }, body, staged.sha256);
}

function addBuffer(pack: Pack, header: Headers, body: Buffer | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const callback = (error?: Error | null): void => (error ? reject(error) : resolve());
    const sink = body ? pack.entry(header, body, callback) : pack.entry(header, callback).end(null);
    sink.on('error', () => undefined);
  });
}

async function addStream(pack: Pack, header: Headers, body: Readable, sha256: string): Promise<void> {
  let entryError: Error | null = null;
  const sink = pack.entry(header, (error?: Error | null) => { entryError = error ?? null; });
  // Its errors arrive through the entry callback; an 'error' event with no listener would crash the process.
  sink.on('error', () => undefined);
  const entryDone = new Promise<void>((resolve, reject) => {
    sink.once('close', () => (entryError ? reject(entryError) : resolve()));
  });
  entryDone.catch(() => undefined);
  const hash = createHash('sha256');
  try {
    for await (const chunk of body) {
      hash.update(chunk as Buffer);
      if (!sink.write(chunk)) {
        await waitForDrain(sink);
        if (sink.destroyed) throw entryError ?? new Error('the archive stream was closed');
      }
    }
    if (hash.digest('hex') !== sha256) {
      throw new SnapkeepError('snapshot_failed', `${header.name} changed in staging before it was archived`, { retryable: true });
    }
    sink.end(null);
  } catch (error) {
    body.destroy();
    sink.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  await entryDone;
}
