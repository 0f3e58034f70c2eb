import { FILES_DIR, isStreamArchivePath, parseMode } from './archive-paths.js';
import type { ManifestEntry } from './manifest.js';

// Words that mark a name as holding secrets, matched as whole words of a path segment
// (`master_key`, `apiKey.json`, `vault-data`), never inside other words (`monkey`, `keyboard`).
const SECRET_WORDS = new Set(['key', 'keys', 'privkey', 'secret', 'secrets', 'vault', 'token', 'tokens', 'credential', 'credentials',
  'password', 'passwords', 'passwd', 'private', 'shadow']);
const SECRET_EXTENSIONS = ['.pem', '.key', '.p12', '.pfx', '.jks', '.kdbx', '.gpg', '.asc', '.age'];
const SECRET_NAMES = /^(\.env(\..+)?|id_(rsa|dsa|ecdsa|ed25519)(\.pub)?|\.netrc|\.pgpass)$/i;

/** words splits a path segment into lower-case words at punctuation and camelCase humps. */
const words = (segment: string): string[] =>
  segment.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w.toLowerCase());

/** isSecretSegment says whether one path segment names something secret. */
export function isSecretSegment(segment: string): boolean {
  const lower = segment.toLowerCase();
  return SECRET_NAMES.test(segment) || SECRET_EXTENSIONS.some((ext) => lower.endsWith(ext)) || words(segment).some((w) => SECRET_WORDS.has(w));
}

/** looksSecret says whether a path, or any directory above it, looks like it holds keys, tokens or vaults. */
export function looksSecret(path: string): boolean {
  return path.split('/').filter((s) => s !== '' && s !== FILES_DIR).some(isSecretSegment);
}

/**
 * restoredMode is the mode a restored entry gets: the archived mode, except that under a
 * secrets-looking path a file is never looser than 0600 and a directory never looser than 0700,
 * and the database and every stream (a dump may hold anything) are always 0600.
 */
export function restoredMode(entry: ManifestEntry, databasePath: string | undefined): number {
  const mode = parseMode(entry.mode);
  if (entry.path === databasePath || isStreamArchivePath(entry.path)) return 0o600;
  if (!looksSecret(entry.path)) return mode;
  return entry.type === 'directory' ? mode & 0o700 : mode & 0o600;
}
