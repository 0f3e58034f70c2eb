import { BackupNotFoundError, SnapkeepError } from '../errors.js';
import type { BackupStore } from '../storage/backup-store.js';
import { backupObjectName, isBackupId, parseBackupName, type BackupName } from './backup-id.js';

const KINDS = [
  ['database', 'master-key', 'none'],
  ['archive', 'master-key', 'none'],
  ['archive', 'age', 'none'],
  ['database', 'age', 'none'],
  ['archive', 'age', 'zstd'],
  ['database', 'age', 'zstd'],
] as const;

/**
 * findBackup finds the object of a backup id, whatever its kind, with a HEAD per possible name
 * (cheaper than listing a large bucket). An id not of the backup-id shape never reaches the store.
 */
export async function findBackup(store: BackupStore, id: string): Promise<BackupName & { size: number; metadata: Record<string, string> }> {
  if (!isBackupId(id)) throw new SnapkeepError('invalid_backup_id', 'not a backup id: expected YYYYMMDDTHHMMSSZ-xxxxxxxx');
  for (const [kind, encryption, compression] of KINDS) {
    const name = backupObjectName(id, kind, encryption, compression);
    try {
      const head = await store.head(name);
      return { ...parseBackupName(name)!, size: head.size, metadata: head.metadata };
    } catch (err) {
      if (!(err instanceof BackupNotFoundError)) throw err;
    }
  }
  throw new BackupNotFoundError(id);
}
