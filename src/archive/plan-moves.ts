import { join } from 'node:path';
import type { ArchiveManifest } from './manifest.js';
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
 * database last, to DB_PATH when set. snapkeep never moves anything itself: nothing live is touched.
 * Destinations were checked by checkManifestOrigin (absolute, normalised, the manifest's own).
 */
export function planMoves(manifest: ArchiveManifest, restoredDir: string, dbPath?: string): RestoreMove[] {
  const moves: RestoreMove[] = manifest.sources.map((s) => ({ from: join(restoredDir, s.archivePath), to: s.path, group: groupOf(s.path) }));
  moves.sort((a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group));
  // The database goes where this installation keeps it (DB_PATH), whatever path the manifest names.
  moves.push({ from: join(restoredDir, manifest.database.path), to: dbPath ?? manifest.database.source, group: 'data' });
  return moves;
}
