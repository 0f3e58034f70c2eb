import type { LocalStoreConfig, S3StoreConfig } from '../config/config.js';
import type { BackupStore } from './backup-store.js';
import { LocalBackupStore, type LocalStoreOptions } from './local-store.js';
import { S3BackupStore, type S3StoreOptions } from './s3-store.js';

/** createStore builds the store the settings name: an S3 bucket or a local directory. */
export function createStore(config: S3StoreConfig | LocalStoreConfig, options: S3StoreOptions & LocalStoreOptions = {}): BackupStore {
  return config.type === 's3' ? new S3BackupStore(config, options) : new LocalBackupStore(config, options);
}
