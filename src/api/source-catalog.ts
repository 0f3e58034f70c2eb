import type { Config, SourceConfig } from '../config/config.js';
import { findSource, sourceStoreConfig, unscopedStore } from '../config/source-config.js';
import { DEFAULT_SOURCE } from '../config/sources-file.js';
import type { Logger } from '../logging/create-logger.js';
import { createStore } from '../storage/create-store.js';
import type { BackupStore } from '../storage/backup-store.js';

/** SourceCatalog is what the API knows of sources: the declared ones, and each one's store. */
export interface SourceCatalog {
  sources(): readonly SourceConfig[];
  /** resolve finds a source by name (none: the primary one) and its store (undefined: backups disabled); throws source_not_found. */
  resolve(name: string | undefined): { source: SourceConfig; store: BackupStore | undefined };
}

/**
 * sourceCatalog builds the API's catalog from the settings: each source's store opened once, on
 * first use, `primaryStore` (the process's own) reused for the source it belongs to.
 */
export function sourceCatalog(config: Config, primaryStore: BackupStore | undefined, logger: Logger): SourceCatalog {
  const stores = new Map<string, BackupStore>();
  return {
    sources: () => config.sources,
    resolve(name) {
      const source = findSource(config, name);
      if (!config.store) return { source, store: undefined };
      if (source.name === config.sourceName && primaryStore) return { source, store: primaryStore };
      let store = stores.get(source.name);
      if (!store) {
        // The process's config is scoped to its primary source: scope the bare store settings again.
        store = createStore(sourceStoreConfig(unscopedStore(config)!, source.name), { logger });
        stores.set(source.name, store);
      }
      return { source, store };
    },
  };
}

/** singleSourceCatalog is the catalog of an API built without settings (tests, embedders): one `default` source on `store`. */
export function singleSourceCatalog(store: BackupStore | undefined): SourceCatalog {
  const source: SourceConfig = {
    name: DEFAULT_SOURCE, host: undefined, dbPath: undefined, includePaths: [], exclude: [], streams: [],
    schedule: { type: 'off' }, retention: { dailyDays: 7, weeklyWeeks: 4 }, ageRecipients: [], compression: { type: 'none', level: 3 },
  };
  return {
    sources: () => [source],
    resolve(name) {
      if (name !== undefined && name !== DEFAULT_SOURCE) findSource({ sources: [source] }, name);
      return { source, store };
    },
  };
}
