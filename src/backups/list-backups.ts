import type { BackupStore } from '../storage/backup-store.js';
import { parseBackupName, type BackupEncryption, type BackupKind } from './backup-id.js';

/** BackupEntry is one backup as listings show it. */
export interface BackupEntry {
  id: string;
  createdAt: string;
  size: number;
  /** The object's name in the store, relative to the prefix. */
  key: string;
  kind: BackupKind;
  encryption: BackupEncryption;
}

/**
 * listBackups lists the store and keeps only objects whose names are exactly backups; anything else
 * under the prefix is someone else's. Newest first, by the time in the id.
 */
export async function listBackups(store: BackupStore): Promise<BackupEntry[]> {
  const objects = await store.list();
  const entries: BackupEntry[] = [];
  for (const object of objects) {
    const parsed = parseBackupName(object.name);
    if (!parsed) continue;
    entries.push({
      id: parsed.id,
      createdAt: parsed.createdAt.toISOString(),
      size: object.size,
      key: object.name,
      kind: parsed.kind,
      encryption: parsed.encryption,
    });
  }
  return entries.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}
