import { SnapkeepError } from '../errors.js';
import type { Logger } from '../logging/create-logger.js';
import type { BackupStore } from '../storage/backup-store.js';
import { parseBackupName, type BackupKind } from './backup-id.js';
import { isFutureDated } from './future-dated.js';
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
  /**
   * Who can open it; an age object's name does not say which, its metadata or header does.
   * `unknown` when that metadata could not be read (`error` says why).
   */
  encryption: 'master-key' | 'passphrase' | 'public-key' | 'unknown';
  /** Set when its time lies more than five minutes ahead of this host's clock: never counted as the newest. */
  future?: true;
  /** Why its metadata could not be read, naming the file or key; a prune never deletes it. */
  error?: string;
}

/** StoredBackup is a listed backup with its name relative to the store's prefix, what store calls take. */
export interface StoredBackup extends BackupEntry {
  name: string;
}

/** ListOptions: where to warn about future-dated and unreadable backups, and the time to judge "future" by. */
export interface ListOptions {
  logger?: Pick<Logger, 'warn'>;
  now?: Date;
}

// Age objects need a HEAD each to tell passphrase from public key; a few at a time.
const AGE_LOOKUPS_AT_ONCE = 8;

/**
 * listStoredBackups lists the store and keeps only objects whose names are exactly backups; anything
 * else under the prefix is someone else's. Newest first, by the time in the id, except that
 * future-dated backups (flagged `future`) come after all the others: whoever takes the first entry
 * as the newest must not get a name planted for 2099. A backup whose metadata cannot be read is
 * listed as `encryption: "unknown"` with an `error`, and the listing goes on; any other failure
 * (the store is down) fails the whole listing, which is never partial.
 */
export async function listStoredBackups(store: BackupStore, options: ListOptions = {}): Promise<StoredBackup[]> {
  const now = options.now ?? new Date();
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
    if (isFutureDated(parsed.createdAt, now)) {
      entry.future = true;
      options.logger?.warn('backup dated in the future: never counted as the newest, never deleted by a prune; check the clock of the host that made it, or delete it by hand', {
        key: entry.key, createdAt: entry.createdAt,
      });
    }
    entries.push(entry);
    if (parsed.encryption === 'age') ageEntries.push(entry);
  }
  const vanished = new Set<StoredBackup>();
  for (let i = 0; i < ageEntries.length; i += AGE_LOOKUPS_AT_ONCE) {
    await Promise.all(ageEntries.slice(i, i + AGE_LOOKUPS_AT_ONCE).map(async (entry) => {
      const lock = await readAgeLock(store, entry.name).catch((error: unknown) => {
        if (!(error instanceof SnapkeepError && error.code === 'metadata_damaged')) throw error;
        entry.encryption = 'unknown';
        entry.error = error.message;
        options.logger?.warn('backup metadata unreadable: listed as unknown, never deleted by a prune', { key: entry.key, error: error.message });
        return undefined;
      });
      if (lock) entry.encryption = lock;
      else if (lock === null) vanished.add(entry);
    }));
  }
  return sortNewestFirst(entries.filter((e) => !vanished.has(e)));
}

/**
 * listBackups is listStoredBackups as the API and `backup list --json` show it: exactly the
 * BackupEntry fields, `key` the full key, no store-internal name.
 */
export async function listBackups(store: BackupStore, options: ListOptions = {}): Promise<BackupEntry[]> {
  return (await listStoredBackups(store, options)).map(({ name: _name, ...entry }) => entry);
}

/** newestBackup is the newest backup that is not future-dated, or undefined. */
export function newestBackup<T extends BackupEntry>(entries: readonly T[]): T | undefined {
  return entries.find((entry) => !entry.future);
}

function sortNewestFirst<T extends BackupEntry>(entries: T[]): T[] {
  const byId = (a: T, b: T): number => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  return entries.sort((a, b) => Number(a.future ?? false) - Number(b.future ?? false) || byId(a, b));
}
