import type { BackupStore } from '../storage/backup-store.js';
import { parseBackupName, type BackupKind } from './backup-id.js';
import { readAgeLock } from './read-age-lock.js';

/** BackupEntry is one backup as listings show it: `GET /api/backups` and `backup list --json`. */
export interface BackupEntry {
  id: string;
  createdAt: string;
  size: number;
  /**
   * Where the object is, for other tools: its full key in the bucket (`{BACKUP_S3_PREFIX}{id}.crbu`,
   * so `aws s3 cp s3://{bucket}/{key}` finds it), or its file name in BACKUP_LOCAL_DIR.
   */
  key: string;
  kind: BackupKind;
  /** Who can open it; an age object's name does not say which, its metadata or header does. */
  encryption: 'master-key' | 'passphrase' | 'public-key';
}

/** StoredBackup is a listed backup with its name relative to the store's prefix, what store calls take. */
export interface StoredBackup extends BackupEntry {
  name: string;
}

// Age objects need a HEAD each to tell passphrase from public key; a few at a time.
const AGE_LOOKUPS_AT_ONCE = 8;

/**
 * listStoredBackups lists the store and keeps only objects whose names are exactly backups; anything
 * else under the prefix is someone else's. Newest first, by the time in the id. Each carries the
 * store-relative name for store calls (delete, head) beside the key shown to people.
 */
export async function listStoredBackups(store: BackupStore): Promise<StoredBackup[]> {
  const objects = await store.list();
  const entries: StoredBackup[] = [];
  const ageEntries: StoredBackup[] = [];
  for (const object of objects) {
    const parsed = parseBackupName(object.name);
    if (!parsed) continue;
    const entry: StoredBackup = {
      id: parsed.id,
      createdAt: parsed.createdAt.toISOString(),
      size: object.size,
      key: store.keyOf(object.name),
      kind: parsed.kind,
      encryption: parsed.encryption === 'master-key' ? 'master-key' : 'public-key',
      name: object.name,
    };
    entries.push(entry);
    if (parsed.encryption === 'age') ageEntries.push(entry);
  }
  const vanished = new Set<StoredBackup>();
  for (let i = 0; i < ageEntries.length; i += AGE_LOOKUPS_AT_ONCE) {
    await Promise.all(ageEntries.slice(i, i + AGE_LOOKUPS_AT_ONCE).map(async (entry) => {
      const lock = await readAgeLock(store, entry.name);
      if (lock) entry.encryption = lock;
      else vanished.add(entry);
    }));
  }
  return sortNewestFirst(entries.filter((e) => !vanished.has(e)));
}

/**
 * listBackups is listStoredBackups as the API and `backup list --json` show it: exactly the
 * BackupEntry fields, `key` the full key, no store-internal name.
 */
export async function listBackups(store: BackupStore): Promise<BackupEntry[]> {
  return (await listStoredBackups(store)).map(({ id, createdAt, size, key, kind, encryption }) => ({ id, createdAt, size, key, kind, encryption }));
}

function sortNewestFirst<T extends BackupEntry>(entries: T[]): T[] {
  return entries.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}
