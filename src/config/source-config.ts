import { join } from 'node:path';
import { SnapkeepError } from '../errors.js';
import type { Config, LocalStoreConfig, S3StoreConfig, SourceConfig } from './config.js';
import { DEFAULT_SOURCE } from './sources-file.js';

/** SourceNotFoundError: a request, job or command named a source no setting declares. */
export class SourceNotFoundError extends SnapkeepError {
  constructor(name: string) {
    super('source_not_found', `no source named ${JSON.stringify(name)} is declared (SNAPKEEP_CONFIG)`, { retryable: false });
    this.name = 'SourceNotFoundError';
  }
}

/**
 * primarySource is the source a request or command means when it names none: `default` if declared,
 * else the only source; undefined when there are several and none is `default`.
 */
export function primarySource(sources: readonly SourceConfig[]): SourceConfig | undefined {
  return sources.find((s) => s.name === DEFAULT_SOURCE) ?? (sources.length === 1 ? sources[0] : undefined);
}

/** findSource is the declared source of that name, or SourceNotFoundError; no name means the primary source. */
export function findSource(config: Pick<Config, 'sources'>, name: string | undefined): SourceConfig {
  if (name === undefined) {
    const primary = primarySource(config.sources);
    if (!primary) throw new SnapkeepError('source_required', `several sources are declared and none is named "${DEFAULT_SOURCE}": name one (${config.sources.map((s) => s.name).join(', ')})`, { retryable: false });
    return primary;
  }
  const source = config.sources.find((s) => s.name === name);
  if (!source) throw new SourceNotFoundError(name);
  return source;
}

/**
 * sourceStoreConfig is where a source's objects live: the `default` source where backups always
 * were (`{BACKUP_S3_PREFIX}{id}.crbu`), any other under `{BACKUP_S3_PREFIX}{name}/` (in
 * BACKUP_LOCAL_DIR, `{name}/`), so one bucket holds a fleet and a listing of one never sees another's.
 */
export function sourceStoreConfig<S extends S3StoreConfig | LocalStoreConfig>(store: S, sourceName: string): S {
  if (sourceName === DEFAULT_SOURCE) return store;
  return store.type === 's3'
    ? { ...store, prefix: `${store.prefix}${sourceName}/` }
    : { ...store, dir: join(store.dir, sourceName) };
}

/** scopeToSource is the Config one source's jobs run with: its files, schedule, retention, encryption and objects. */
export function scopeToSource(config: Config, source: SourceConfig): Config {
  return Object.freeze({
    ...config,
    sourceName: source.name,
    dbPath: source.dbPath,
    includePaths: source.includePaths,
    exclude: source.exclude,
    streams: source.streams,
    schedule: source.schedule,
    retention: source.retention,
    ageRecipients: source.ageRecipients,
    compression: source.compression,
    store: config.store ? sourceStoreConfig(config.store, source.name) : undefined,
  });
}

/** configForSource scopes a Config to the named source (no name: the primary one), or throws SourceNotFoundError. */
export function configForSource(config: Config, name: string | undefined): Config {
  const source = findSource(config, name);
  if (source.name === config.sourceName) return config;
  // A Config already scoped carries the scoped store: start again from the unscoped one.
  return scopeToSource({ ...config, store: unscopedStore(config) }, source);
}

/** unscopedStore undoes sourceStoreConfig for a Config scoped to a source: the store settings as the environment gave them. */
export function unscopedStore(config: Pick<Config, 'store' | 'sourceName'>): Config['store'] {
  const { store } = config;
  if (!store || config.sourceName === '' || config.sourceName === DEFAULT_SOURCE) return store;
  return store.type === 's3'
    ? { ...store, prefix: store.prefix.slice(0, store.prefix.length - config.sourceName.length - 1) }
    : { ...store, dir: join(store.dir, '..') };
}

/** servesSource says whether this worker (SNAPKEEP_HOST) may run the source's jobs: its host is ours, or it names none. */
export function servesSource(config: Pick<Config, 'fleetHost'>, source: SourceConfig): boolean {
  return source.host === undefined || source.host === config.fleetHost;
}
