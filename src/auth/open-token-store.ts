import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/load-config.js';
import type { Logger } from '../logging/create-logger.js';
import { RedisTokenStore } from './redis-token-store.js';
import { SqliteTokenStore } from './sqlite-token-store.js';
import type { TokenStore } from './token-store.js';

/** tokensLiveInRedis: with REDIS_URL (a Redis others may share) tokens are the fleet's, in Redis. */
export const tokensLiveInRedis = (config: Pick<Config, 'redisUrl'>): boolean => config.redisUrl !== undefined;

/**
 * openTokenStore opens where this installation keeps its API tokens. Without REDIS_URL (`serve` on
 * its embedded Redis: one host, one API process) that is STATE_DIR/snapkeep.db, which the CLI reads
 * with the service stopped. With REDIS_URL every API process sharing the Redis must see the same
 * tokens, so they live there, signed with MASTER_KEY; tokens an earlier version kept in this host's
 * STATE_DIR/snapkeep.db move into Redis once (and leave the file).
 */
export async function openTokenStore(config: Config, options: { redis?: Redis; logger?: Logger; poll?: boolean }): Promise<TokenStore> {
  if (!tokensLiveInRedis(config)) return new SqliteTokenStore(config.stateDir);
  if (!config.masterKey) {
    throw new ConfigError(['MASTER_KEY: is required when REDIS_URL is set: the API tokens kept in Redis are signed with it (generate one with `snapkeep key generate`)']);
  }
  if (!options.redis) throw new Error('openTokenStore: a Redis connection is needed when REDIS_URL is set');
  const store = new RedisTokenStore({
    redis: options.redis, queuePrefix: config.queuePrefix, masterKey: config.masterKey,
    previousMasterKeys: config.previousMasterKeys, stateDir: config.stateDir, ...(options.logger ? { logger: options.logger } : {}),
  });
  await store.load();
  await moveLocalTokens(store, config.stateDir, options.logger);
  if (options.poll) store.startPolling();
  return store;
}

/** moveLocalTokens moves a host's STATE_DIR/snapkeep.db tokens into Redis; on failure they stay where they were. */
async function moveLocalTokens(store: RedisTokenStore, stateDir: string, logger: Logger | undefined): Promise<void> {
  if (!existsSync(join(stateDir, 'snapkeep.db'))) return;
  const local = new SqliteTokenStore(stateDir);
  try {
    const rows = local.takeAll();
    if (rows.length === 0) return;
    try {
      const added = await store.adopt(rows);
      logger?.info('moved the API tokens of STATE_DIR/snapkeep.db into Redis (REDIS_URL is set)', { moved: added, alreadyThere: rows.length - added });
    } catch (error) {
      local.putBack(rows);
      throw error;
    }
  } finally {
    await local.close();
  }
}
