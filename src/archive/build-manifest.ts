import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { VERSION } from '../version.js';
import { formatMode } from './archive-paths.js';
import {
  MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, MANIFEST_FORMAT_VERSION_STREAMS,
  type AnyArchiveManifest, type ArchiveManifest, type ManifestEntry, type ManifestSource, type SkippedEntry,
} from './manifest.js';
import type { ContentFingerprint } from '../snapshot/content-fingerprint.js';
import type { StagedEntry } from './stage-sources.js';
import type { StagedStream } from './stage-streams.js';

/** DatabaseSnapshot is the VACUUM INTO copy going into the archive, hashed. */
export interface DatabaseSnapshot {
  file: string;
  archivePath: string;
  source: string;
  size: number;
  sha256: string;
  mtime: Date;
}

/** hashDatabaseSnapshot reads a snapshot once for its SHA-256; the snapshot is ours, so it cannot change after. */
export async function hashDatabaseSnapshot(file: string, archivePath: string, source: string): Promise<DatabaseSnapshot> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  const info = await stat(file);
  return { file, archivePath, source, size: info.size, sha256: hash.digest('hex'), mtime: info.mtime };
}

/** ManifestOptions is what a manifest is built from; database is absent for an archive of only directories and streams. */
export interface ManifestOptions {
  backupId: string;
  createdAt: Date;
  database?: DatabaseSnapshot;
  sources: ManifestSource[];
  exclude: readonly string[];
  entries: readonly StagedEntry[];
  /** Each stream's stdout, staged: listed last, as `streams/{name}`. */
  streams?: readonly StagedStream[];
  skipped: SkippedEntry[];
  /** The live database's journal mode and the snapshot's content fingerprint. */
  facts?: { journalMode: string; fingerprint: ContentFingerprint };
}

/** buildManifest describes an archive: the database first (if any), then every staged entry in archive order, then the streams. */
export function buildManifest(options: ManifestOptions & { database: DatabaseSnapshot }): ArchiveManifest;
export function buildManifest(options: ManifestOptions): AnyArchiveManifest;
export function buildManifest(options: ManifestOptions): AnyArchiveManifest {
  const { database } = options;
  const streams = options.streams ?? [];
  const entries: ManifestEntry[] = [
    ...(database ? [fileEntry(database.archivePath, database)] : []),
    ...options.entries.map((e): ManifestEntry => ({
      path: e.archivePath,
      type: e.type,
      size: e.size,
      mode: formatMode(e.mode),
      mtime: e.mtime.toISOString(),
      ...(e.sha256 !== undefined ? { sha256: e.sha256 } : {}),
      ...(e.linkTarget !== undefined ? { linkTarget: e.linkTarget } : {}),
    })),
    ...streams.map((s) => fileEntry(s.archivePath, s)),
  ];
  return {
    format: MANIFEST_FORMAT,
    // Readers before streams require a database and know no `streams/`: they refuse version 2 by its number.
    formatVersion: database && streams.length === 0 ? MANIFEST_FORMAT_VERSION : MANIFEST_FORMAT_VERSION_STREAMS,
    snapkeepVersion: VERSION,
    backupId: options.backupId,
    createdAt: options.createdAt.toISOString(),
    ...(database ? { database: { path: database.archivePath, source: database.source, ...(options.facts ?? {}) } } : {}),
    sources: options.sources,
    exclude: [...options.exclude],
    entries,
    skipped: options.skipped,
  };
}

/** fileEntry lists bytes snapkeep made itself (the snapshot, a stream's stdout): always 0600. */
const fileEntry = (path: string, file: { size: number; sha256: string; mtime: Date }): ManifestEntry =>
  ({ path, type: 'file', size: file.size, mode: '0600', mtime: file.mtime.toISOString(), sha256: file.sha256 });
