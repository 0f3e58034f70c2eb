import { createHash } from 'node:crypto';
import { lstat, lutimes, mkdir, open, symlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar, { type Extract } from 'tar-stream';
import { SnapkeepError } from '../errors.js';
import { MANIFEST_NAME } from './archive-paths.js';
import { applyRestoredModes } from './apply-restored-modes.js';
import { MAX_MANIFEST_BYTES, parseManifest, type AnyArchiveManifest, type ManifestEntry } from './manifest.js';
import { waitForDrain } from './wait-for-drain.js';

/** Entry is one tar entry as tar-stream yields it: its header, and its body as a stream. */
type Entry = Extract extends AsyncIterable<infer E> ? E : never;

/** ExtractedArchive is a verified extraction: the manifest, and how many files and bytes were written. */
export interface ExtractedArchive {
  manifest: AnyArchiveManifest;
  files: number;
  bytes: number;
}

/**
 * extractArchive writes a snapkeep tar archive into dir (an empty directory the caller owns) and
 * checks it against its own manifest as it goes: the manifest must come first; every entry must
 * be listed in it with the same type; every file's size and SHA-256, and every symlink's target,
 * must match; nothing listed may be missing. Files are created 0600 and exclusively, never through
 * a symlink; modes and times are applied only once everything checked out. The caller removes dir
 * on failure. The archive's stream must end without error (its tag or last chunk authenticated)
 * before this resolves.
 */
export async function extractArchive(archive: Readable, dir: string, backupId: string, options: ExtractOptions = {}): Promise<ExtractedArchive> {
  const extract = tar.extract();
  // Its errors reach us through feed and consume; an 'error' event with no listener would crash the process.
  extract.on('error', () => undefined);
  const state = { consumerFailed: false };
  const feeding = feed(archive, extract, state);
  feeding.catch(() => undefined);
  try {
    const result = await consume(extract, dir, backupId, options);
    await feeding;
    await applyRestoredModes(dir, result.manifest);
    return result;
  } catch (error) {
    state.consumerFailed = true;
    archive.destroy();
    extract.destroy();
    // A failure of the stream itself (wrong key, tampered ciphertext, a cut download) explains
    // the tar errors it causes downstream, so it wins.
    const fed = await feeding.then(() => null, (e: unknown) => e);
    if (fed !== null && !(fed instanceof ConsumerAbort)) throw fed;
    throw error;
  }
}

/** ConsumerAbort marks the feed's end when the consumer gave up first. */
class ConsumerAbort extends Error {}

async function feed(archive: Readable, extract: Extract, state: { consumerFailed: boolean }): Promise<void> {
  try {
    for await (const chunk of archive) {
      if (!extract.write(chunk)) await waitForDrain(extract);
      if (extract.destroyed) throw new ConsumerAbort();
    }
    extract.end(null);
  } catch (error) {
    if (state.consumerFailed) throw new ConsumerAbort();
    extract.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

/** ExtractOptions: checkManifest runs on the parsed manifest before any file is written (its origin). */
export interface ExtractOptions {
  checkManifest?: (manifest: AnyArchiveManifest) => void;
}

async function consume(extract: Extract, dir: string, backupId: string, options: ExtractOptions): Promise<ExtractedArchive> {
  let manifest: AnyArchiveManifest | null = null;
  const expected = new Map<string, ManifestEntry>();
  const seen = new Set<string>();
  // Directories this extraction made: a path may only be written through these, never through a link.
  const dirs = new Set<string>(['']);
  let files = 0;
  let bytes = 0;
  for await (const entry of extract) {
    const name = entry.header.name.replace(/\/+$/, '');
    if (!manifest) {
      if (name !== MANIFEST_NAME || entry.header.type !== 'file') throw invalid(`the first entry is ${JSON.stringify(name)}, not ${MANIFEST_NAME}`);
      manifest = parseManifest(await readSmall(entry, MAX_MANIFEST_BYTES), backupId);
      options.checkManifest?.(manifest);
      for (const e of manifest.entries) expected.set(e.path, e);
      continue;
    }
    const want = expected.get(name);
    if (!want) throw invalid(`${JSON.stringify(name)} is not listed in ${MANIFEST_NAME}`);
    if (seen.has(name)) throw invalid(`${name} appears twice`);
    seen.add(name);
    if (entry.header.type !== want.type) throw invalid(`${name} is a ${entry.header.type ?? 'unknown'} in the archive but a ${want.type} in ${MANIFEST_NAME}`);
    await makeParents(dir, name, dirs);
    const path = join(dir, name);
    if (want.type === 'directory') {
      await makeDirectory(dir, name, dirs);
      entry.resume();
    } else if (want.type === 'symlink') {
      const target = want.linkTarget ?? '';
      if ((entry.header.linkname ?? '') !== target) throw invalid(`${name} links to another target than ${MANIFEST_NAME} says`);
      entry.resume();
      await symlink(target, path);
      await lutimes(path, new Date(want.mtime), new Date(want.mtime));
    } else {
      await writeFile(entry, path, want);
      files += 1;
      bytes += want.size;
    }
  }
  if (!manifest) throw invalid(`the archive is empty: no ${MANIFEST_NAME}`);
  const missing = manifest.entries.filter((e) => !seen.has(e.path));
  if (missing.length > 0) throw invalid(`${missing.length} entries listed in ${MANIFEST_NAME} are missing from the archive, e.g. ${missing[0]!.path}`);
  return { manifest, files, bytes };
}

async function writeFile(entry: Entry, path: string, want: ManifestEntry): Promise<void> {
  // 'wx': O_CREAT|O_EXCL never follows a symlink and never reuses a file.
  const file: FileHandle = await open(path, 'wx', 0o600);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of entry as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      if (size > want.size) throw invalid(`${want.path} is larger in the archive than in ${MANIFEST_NAME}`);
      let done = 0;
      while (done < chunk.length) done += (await file.write(chunk, done, chunk.length - done)).bytesWritten;
    }
    if (size !== want.size) throw invalid(`${want.path} is ${size} bytes in the archive, ${want.size} in ${MANIFEST_NAME}`);
    if (hash.digest('hex') !== want.sha256) throw invalid(`${want.path} does not match its SHA-256 in ${MANIFEST_NAME}`);
    await file.sync();
  } finally {
    await file.close();
  }
}

async function makeParents(dir: string, name: string, dirs: Set<string>): Promise<void> {
  const parts = name.split('/');
  for (let i = 1; i < parts.length; i++) await makeDirectory(dir, parts.slice(0, i).join('/'), dirs);
}

async function makeDirectory(dir: string, name: string, dirs: Set<string>): Promise<void> {
  if (dirs.has(name)) return;
  try {
    await mkdir(join(dir, name), { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Something other than one of our directories is in the way, e.g. a symlink from the archive.
    const info = await lstat(join(dir, name));
    if (!info.isDirectory()) throw invalid(`${name} is needed as a directory but the archive made it a ${info.isSymbolicLink() ? 'symlink' : 'file'}`);
  }
  dirs.add(name);
}

async function readSmall(entry: Entry, limit: number): Promise<Buffer> {
  if ((entry.header.size ?? 0) > limit) throw invalid(`${MANIFEST_NAME} is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const invalid = (message: string): SnapkeepError => new SnapkeepError('archive_invalid', `archive is damaged or was tampered with: ${message}`);
