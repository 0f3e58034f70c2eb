import Joi from 'joi';
import { SnapkeepError } from '../errors.js';
import type { ContentFingerprint } from '../snapshot/content-fingerprint.js';
import { MANIFEST_NAME, isSafeArchivePath, isStreamArchivePath } from './archive-paths.js';

export const MANIFEST_FORMAT = 'snapkeep-archive';
export const MANIFEST_FORMAT_VERSION = 1;
/** The format version of an archive without a database or with streams, which version-1 readers cannot restore. */
export const MANIFEST_FORMAT_VERSION_STREAMS = 2;
export type ManifestFormatVersion = typeof MANIFEST_FORMAT_VERSION | typeof MANIFEST_FORMAT_VERSION_STREAMS;
/** A manifest larger than this is refused on restore: it is held in memory (about 200 bytes an entry). */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export type EntryType = 'file' | 'directory' | 'symlink';

/** ManifestEntry is one archived path: files carry their SHA-256, symlinks their target. */
export interface ManifestEntry {
  path: string;
  type: EntryType;
  size: number;
  /** Permission bits as four octal digits, e.g. `0600`. */
  mode: string;
  mtime: string;
  sha256?: string;
  linkTarget?: string;
}

/** SkippedEntry is a source path left out on purpose (sockets, devices, the live database), so no gap is silent. */
export interface SkippedEntry {
  path: string;
  reason: string;
}

/** ManifestSource is one of BACKUP_INCLUDE_PATHS and where it sits in the archive. */
export interface ManifestSource {
  path: string;
  archivePath: string;
  type: EntryType;
}

/** ManifestDatabase is the archive's database snapshot: its member, the live path it came from, its facts. */
export interface ManifestDatabase {
  path: string;
  source: string;
  /** Recorded since 0.2: the live database's journal mode and the snapshot's content fingerprint. */
  journalMode?: string;
  fingerprint?: ContentFingerprint;
}

/**
 * AnyArchiveManifest is `manifest.json`, the first entry of every archive: what the archive holds
 * and how to check it, readable by hand after `age -d … | tar -x`. An archive of only directories
 * and streams has no database; a stream's stdout is the file entry `streams/{name}`.
 */
export interface AnyArchiveManifest {
  format: typeof MANIFEST_FORMAT;
  /** 1 for an archive readers before streams can open (a database, no stream); 2 otherwise, so they refuse it by its version. */
  formatVersion: ManifestFormatVersion;
  snapkeepVersion: string;
  backupId: string;
  createdAt: string;
  database?: ManifestDatabase;
  sources: ManifestSource[];
  exclude: string[];
  entries: ManifestEntry[];
  skipped: SkippedEntry[];
  /** The HMAC that proves a master-key holder made it (manifest-origin.ts); absent before 0.2. */
  authenticator?: { alg: 'hmac-sha256'; key: string; mac: string };
}

/** ArchiveManifest is the manifest of an archive that holds a database, as every archive did before streams. */
export type ArchiveManifest = AnyArchiveManifest & { database: ManifestDatabase };

const sha256 = Joi.string().pattern(/^[0-9a-f]{64}$/);
const entrySchema = Joi.object({
  path: Joi.string().required(),
  type: Joi.string().valid('file', 'directory', 'symlink').required(),
  size: Joi.number().integer().min(0).required(),
  mode: Joi.string().pattern(/^[0-7]{4}$/).required(),
  mtime: Joi.string().isoDate().required(),
  sha256: sha256.when('type', { is: 'file', then: Joi.required(), otherwise: Joi.forbidden() }),
  linkTarget: Joi.string().when('type', { is: 'symlink', then: Joi.required(), otherwise: Joi.forbidden() }),
});
const manifestSchema = Joi.object({
  format: Joi.string().valid(MANIFEST_FORMAT).required(),
  formatVersion: Joi.number().valid(MANIFEST_FORMAT_VERSION, MANIFEST_FORMAT_VERSION_STREAMS).required(),
  snapkeepVersion: Joi.string().required(),
  backupId: Joi.string().required(),
  createdAt: Joi.string().isoDate().required(),
  database: Joi.object({ path: Joi.string().required(), source: Joi.string().required() })
    .when('formatVersion', { is: MANIFEST_FORMAT_VERSION, then: Joi.required() }),
  sources: Joi.array().items(Joi.object({ path: Joi.string().required(), archivePath: Joi.string().required(), type: Joi.string().valid('file', 'directory', 'symlink').required() })).required(),
  exclude: Joi.array().items(Joi.string()).required(),
  entries: Joi.array().items(entrySchema).required(),
  skipped: Joi.array().items(Joi.object({ path: Joi.string().required(), reason: Joi.string().required() })).required(),
  authenticator: Joi.object({ alg: Joi.string().valid('hmac-sha256').required(), key: Joi.string().pattern(/^[0-9a-f]{16}$/).required(), mac: Joi.string().pattern(/^[0-9a-f]{64}$/).required() }),
});

/** serializeManifest is the manifest's bytes as stored in the archive. */
export function serializeManifest(manifest: AnyArchiveManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}

/**
 * parseManifest reads and checks `manifest.json` from an archive being restored: its shape, that
 * every path is safe to write, that no path appears twice, that a stream is a file and that the
 * database, when there is one, is listed.
 */
export function parseManifest(bytes: Buffer, backupId: string): AnyArchiveManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(`${MANIFEST_NAME} is not JSON`);
  }
  const { value, error } = manifestSchema.validate(raw, { abortEarly: true, allowUnknown: true, convert: false });
  if (error) throw invalid(`${MANIFEST_NAME}: ${error.message}`);
  const manifest = value as AnyArchiveManifest;
  if (manifest.backupId !== backupId) throw invalid(`${MANIFEST_NAME} belongs to backup ${manifest.backupId}, not ${backupId}`);
  const seen = new Set<string>();
  for (const entry of manifest.entries) {
    if (!isSafeArchivePath(entry.path)) throw invalid(`${MANIFEST_NAME} lists an unsafe path: ${JSON.stringify(entry.path)}`);
    if (seen.has(entry.path)) throw invalid(`${MANIFEST_NAME} lists ${entry.path} twice`);
    if (isStreamArchivePath(entry.path) && entry.type !== 'file') throw invalid(`${MANIFEST_NAME} lists the stream ${entry.path} as a ${entry.type}`);
    seen.add(entry.path);
  }
  if (!manifest.database) return manifest;
  const database = manifest.entries.find((e) => e.path === manifest.database!.path);
  if (!database || database.type !== 'file') throw invalid(`${MANIFEST_NAME} does not list the database ${manifest.database.path}`);
  return manifest;
}

const invalid = (message: string): SnapkeepError => new SnapkeepError('archive_invalid', `archive is damaged or was tampered with: ${message}`);
