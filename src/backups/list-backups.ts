import type { BackupStore } from '../storage/backup-store.js';
import { parseBackupName, type BackupKind } from './backup-id.js';
import { readAgeLock } from './read-age-lock.js';

/** BackupEntry is one backup as listings show it. */
export interface BackupEntry {
  id: string;
  createdAt: string;
  size: number;
  /** The object's name in the store, relative to the prefix. */
  key: string;
  kind: BackupKind;
  /** Who can open it; an age object's name does not say which, its metadata or header does. */
  encryption: 'master-key' | 'passphrase' | 'public-key';
}

// Age objects need a HEAD each to tell passphrase from public key; a few at a time.
const AGE_LOOKUPS_AT_ONCE = 8;

/**
 * listBackups lists the store and keeps only objects whose names are exactly backups; anything else
 * under the prefix is someone else's. Newest first, by the time in the id.
 */
export async function listBackups(store: BackupStore): Promise<BackupEntry[]> {
  const objects = await store.list();
  const entries: BackupEntry[] = [];
  const ageEntries: BackupEntry[] = [];
  for (const object of objects) {
    const parsed = parseBackupName(object.name);
    if (!parsed) continue;
    const entry: BackupEntry = {
      id: parsed.id,
      createdAt: parsed.createdAt.toISOString(),
      size: object.size,
      key: object.name,
      kind: parsed.kind,
      encryption: parsed.encryption === 'master-key' ? 'master-key' : 'public-key',
    };
    entries.push(entry);
    if (parsed.encryption === 'age') ageEntries.push(entry);
  }
  const vanished = new Set<BackupEntry>();
  for (let i = 0; i < ageEntries.length; i += AGE_LOOKUPS_AT_ONCE) {
    await Promise.all(ageEntries.slice(i, i + AGE_LOOKUPS_AT_ONCE).map(async (entry) => {
      const lock = await readAgeLock(store, entry.key);
      if (lock) entry.encryption = lock;
      else vanished.add(entry);
    }));
  }
  return sortNewestFirst(entries.filter((e) => !vanished.has(e)));
}

function sortNewestFirst(entries: BackupEntry[]): BackupEntry[] {
  return entries.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}
