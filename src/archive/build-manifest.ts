import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { VERSION } from '../version.js';
import { formatMode } from './archive-paths.js';
import { MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, type ArchiveManifest, type ManifestEntry, type ManifestSource, type SkippedEntry } from './manifest.js';
import type { ContentFingerprint } from '../snapshot/content-fingerprint.js';
import type { StagedEntry } from './stage-sources.js';

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

/** buildManifest describes an archive: the database first, then every staged entry in archive order. */
export function buildManifest(options: {
  backupId: string;
  createdAt: Date;
  database: DatabaseSnapshot;
  sources: ManifestSource[];
  exclude: readonly string[];
  entries: readonly StagedEntry[];
  skipped: SkippedEntry[];
  /** The live database's journal mode and the snapshot's content fingerprint. */
  facts?: { journalMode: string; fingerprint: ContentFingerprint };
}): ArchiveManifest {
  const { database } = options;
  const entries: ManifestEntry[] = [
    { path: database.archivePath, type: 'file', size: database.size, mode: '0600', mtime: database.mtime.toISOString(), sha256: database.sha256 },
    ...options.entries.map((e): ManifestEntry => ({
      path: e.archivePath,
      type: e.type,
      size: e.size,
      mode: formatMode(e.mode),
      mtime: e.mtime.toISOString(),
      ...(e.sha256 !== undefined ? { sha256: e.sha256 } : {}),
      ...(e.linkTarget !== undefined ? { linkTarget: e.linkTarget } : {}),
    })),
  ];
  return {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_FORMAT_VERSION,
    snapkeepVersion: VERSION,
    backupId: options.backupId,
    createdAt: options.createdAt.toISOString(),
    database: { path: database.archivePath, source: database.source, ...(options.facts ?? {}) },
    sources: options.sources,
    exclude: [...options.exclude],
    entries,
    skipped: options.skipped,
  };
}
