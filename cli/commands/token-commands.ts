import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { openTokenStore, tokensLiveInRedis } from '../../src/auth/open-token-store.js';
import { ROLES, type Role, type TokenStore } from '../../src/auth/token-store.js';
import { UsageError } from '../exit-codes.js';
import { formatTable } from '../print-table.js';
import { cliLogger, connectRedis, loadCliConfig } from '../runtime.js';

/** registerTokenCommands adds `snapkeep token create|list|revoke` and `snapkeep key generate`. */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('manage API tokens (stored hashed: in Redis when REDIS_URL is set, else in STATE_DIR/snapkeep.db)');
  const withStore = async <T>(run: (store: TokenStore) => Promise<T>): Promise<T> => {
    const config = loadCliConfig();
    let redis: Redis | undefined;
    if (tokensLiveInRedis(config)) {
      redis = await connectRedis({ url: config.redisUrl! }, 'producer', 'with REDIS_URL set, API tokens live in Redis (shared by every API process), so token commands need it up');
    }
    try {
      const store = await openTokenStore(config, { ...(redis ? { redis } : {}), logger: cliLogger(config, true) });
      try {
        return await run(store);
      } finally {
        await store.close();
      }
    } finally {
      redis?.disconnect();
    }
  };

  token.command('create')
    .description('create a token and print it, once, alone on stdout')
    .requiredOption('--name <name>', 'a name to list and revoke it by')
    .option('--role <role>', 'superadmin or viewer', 'viewer')
    .action(async (options: { name: string; role: string }) => {
      if (!ROLES.includes(options.role as Role)) throw new UsageError(`--role: must be one of ${ROLES.join(', ')}`);
      const created = await withStore(async (store) => {
        try {
          return await store.create(options.name, options.role as Role);
        } catch (err) {
          if (/already exists|token name:/.test((err as Error).message)) throw new UsageError((err as Error).message);
          throw err;
        }
      });
      process.stdout.write(`${created}\n`);
    });

  token.command('list')
    .description('list tokens by name and role (never the tokens themselves)')
    .option('--json', 'print {tokens: [{name, role, createdAt}]}')
    .action(async (options: { json?: boolean }) => {
      const tokens = await withStore((store) => store.list());
      if (options.json) { process.stdout.write(`${JSON.stringify({ tokens }, null, 2)}\n`); return; }
      if (tokens.length === 0) { process.stdout.write('no tokens\n'); return; }
      process.stdout.write(`${formatTable(['NAME', 'ROLE', 'CREATED (UTC)'], tokens.map((t) => [t.name, t.role, t.createdAt]))}\n`);
    });

  token.command('revoke')
    .description('revoke a token by name')
    .argument('<name>')
    .action(async (name: string) => {
      if (!(await withStore((store) => store.revoke(name)))) throw new Error(`no token named "${name}"`);
      process.stdout.write(`revoked ${name}\n`);
    });

  program.command('key')
    .description('master keys')
    .command('generate')
    .description('print a new random master key (64 hex characters) for MASTER_KEY')
    .action(() => { process.stdout.write(`${randomBytes(32).toString('hex')}\n`); });
}

