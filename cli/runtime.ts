import type { Redis } from 'ioredis';
import type { Config } from '../src/config/config.js';
import { ConfigError, loadConfig, readEnvFile, type ConfigNeeds } from '../src/config/load-config.js';
import { configForSource } from '../src/config/source-config.js';
import { SnapkeepError } from '../src/errors.js';
import { createLogger, type Logger } from '../src/logging/create-logger.js';
import type { RedisTarget } from '../src/queue/redis-connection.js';
import type { BackupStore } from '../src/storage/backup-store.js';
import { createStore } from '../src/storage/create-store.js';
import type { JobContext } from '../workers/runtime/job-context.js';

/** Env is the process environment merged over `.env`: read once here, at the composition root. */
export function readEnvironment(): Record<string, string | undefined> {
  return { ...readEnvFile(), ...process.env };
}

/**
 * loadCliConfig reads the settings, scoped to `--source` (none: `default`, or the only source);
 * throws ConfigError (exit 2) when they are invalid or miss what `needs` names, and source_not_found
 * or source_required (exit 2) for a source that is not declared, or none among several.
 */
export function loadCliConfig(needs: ConfigNeeds = {}, source?: string): Config {
  const config = loadConfig(readEnvironment(), needs);
  // Services and tokens act for every source; a backup command (needs a store) for one.
  const scoped = source !== undefined || (config.sourceName === '' && needs.store === true) ? configForSource(config, source) : config;
  // With SNAPKEEP_CONFIG a source may have no database (directories, streams): a command that needs one says so.
  const archiveOnly = scoped.includePaths.length > 0 || scoped.streams.length > 0;
  if (needs.database === 'always' && scoped.dbPath === undefined && !(needs.command === 'backup create' && archiveOnly)) {
    throw new ConfigError([`DB_PATH: source "${scoped.sourceName}" has no database, which \`snapkeep ${needs.command ?? 'this command'}\` needs`]);
  }
  return scoped;
}

/** SOURCE_OPTION is every backup command's `--source NAME`. */
export const SOURCE_OPTION = ['--source <name>', 'the source (SNAPKEEP_CONFIG) to act on (default: "default", or the only one)'] as const;

/**
 * cliLogger logs to stderr; a one-shot command logs only warnings unless LOG_LEVEL asks for more,
 * so that its own output stays readable.
 */
export function cliLogger(config: Config, quiet: boolean): Logger {
  const explicit = readEnvironment().LOG_LEVEL;
  return createLogger({ level: quiet && !explicit ? 'warn' : config.log.level, format: config.log.format });
}

/**
 * requireStore returns the configured store, or the error every backup feature gives when disabled;
 * the store logs to logger (a directory store: the stale temporary files it removes).
 */
export function requireStore(config: Config, logger?: Logger): BackupStore {
  if (!config.store) {
    throw new SnapkeepError('backups_disabled', 'backups are disabled: set BACKUP_S3_ENDPOINT (or BACKUP_LOCAL_DIR) to enable them');
  }
  return createStore(config.store, logger ? { logger } : {});
}

/** redisTarget is REDIS_URL, or the embedded server's socket under STATE_DIR. */
export async function redisTarget(config: Config): Promise<RedisTarget> {
  if (config.redisUrl) return { url: config.redisUrl };
  const { embeddedRedisSocket } = await import('../src/queue/embedded-redis.js');
  return { socketPath: embeddedRedisSocket(config.stateDir) };
}

/** connectRedis opens a client and waits until it answers, failing with a clear message. */
export async function connectRedis(target: RedisTarget, role: 'worker' | 'producer', why = 'is the service running? (without --queue the CLI works without Redis)'): Promise<Redis> {
  // ioredis loads only when a command needs Redis: most run without it.
  const { createRedisConnection, waitUntilReady } = await import('../src/queue/redis-connection.js');
  const redis = createRedisConnection(target, role);
  // Each refused connection attempt would print a stack ("Unhandled error event"); the failure is
  // told once, below, or by the command that fails.
  redis.on('error', () => undefined);
  try {
    await waitUntilReady(redis, 5000);
  } catch {
    redis.disconnect();
    const where = 'url' in target ? 'REDIS_URL' : `the embedded Redis of \`snapkeep serve\` (STATE_DIR ${target.socketPath})`;
    throw new SnapkeepError('store_unavailable', `cannot reach ${where}: ${why}`);
  }
  return redis;
}

/** inProcessContext is a JobContext for running a job function directly in the CLI process. */
export function inProcessContext(config: Config, store: BackupStore, logger: Logger, onProgress: JobContext['reportProgress']): JobContext {
  return { config, store, logger, reportProgress: onProgress };
}
