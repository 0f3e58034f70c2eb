import { join } from 'node:path';
import { isStreamArchivePath } from './archive-paths.js';
import type { AnyArchiveManifest, SkippedEntry } from './manifest.js';
import { isSecretSegment } from './secret-paths.js';

/** MoveGroup is a step of the safe order to put restored paths in place. */
export type MoveGroup = 'keys and vault' | 'identity and config' | 'data';

/** RestoreMove is one restored path and where it belongs on the live system. */
export interface RestoreMove {
  from: string;
  to: string;
  group: MoveGroup;
}

const GROUP_ORDER: readonly MoveGroup[] = ['keys and vault', 'identity and config', 'data'];
const CONFIG_WORDS = /(^|[^a-z])(etc|conf|config|configs|configuration|settings|identity|identities|certs?|tls|ssl)([^a-z]|$)/i;

/** groupOf sorts a live path into the safe order: keys and vaults, then identity and config, then data. */
function groupOf(path: string): MoveGroup {
  const segments = path.split('/').filter(Boolean);
  if (segments.some(isSecretSegment)) return 'keys and vault';
  if (segments.some((s) => CONFIG_WORDS.test(s))) return 'identity and config';
  return 'data';
}

/**
 * planMoves lists what an operator moves where after an archive restore, in the safe order: keys
 * and vault first (what everything else needs to start), then identity and config, then data, the
 * database (if the archive has one) last, to DB_PATH when set. snapkeep never moves anything
 * itself: nothing live is touched. Destinations were checked by checkManifestOrigin (absolute,
 * normalised, the manifest's own). Streams have no destination: see streamsToFeed.
 */
export function planMoves(manifest: AnyArchiveManifest, restoredDir: string, dbPath?: string): RestoreMove[] {
  const moves: RestoreMove[] = manifest.sources.map((s) => ({ from: join(restoredDir, s.archivePath), to: s.path, group: groupOf(s.path) }));
  moves.sort((a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group));
  // The database goes where this installation keeps it (DB_PATH), whatever path the manifest names.
  if (manifest.database) moves.push({ from: join(restoredDir, manifest.database.path), to: dbPath ?? manifest.database.source, group: 'data' });
  return moves;
}

/** STREAM_NOT_MOVED is why a restored stream has no move: its bytes go back through a command, not to a path. */
export const STREAM_NOT_MOVED = 'a stream: feed it to its restoreCommand, or `backup apply`';

/**
 * streamsToFeed lists each restored stream (`{dir}/streams/{name}`) with STREAM_NOT_MOVED, for the
 * restore result's `skipped`: what the restore did not plan to put anywhere, and what to do instead.
 */
export function streamsToFeed(manifest: AnyArchiveManifest, restoredDir: string): SkippedEntry[] {
  return manifest.entries.filter((e) => isStreamArchivePath(e.path)).map((e) => ({ path: join(restoredDir, e.path), reason: STREAM_NOT_MOVED }));
}
