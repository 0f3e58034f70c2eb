import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { ROLES, TokenStore, type Role } from '../../src/auth/token-store.js';
import { UsageError } from '../exit-codes.js';
import { formatTable } from '../print-table.js';
import { loadCliConfig } from '../runtime.js';

/** registerTokenCommands adds `snapkeep token create|list|revoke` and `snapkeep key generate`. */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('manage API tokens (stored hashed in STATE_DIR/snapkeep.db)');
  const withStore = <T>(run: (store: TokenStore) => T): T => {
    const store = new TokenStore(loadCliConfig().stateDir);
    try {
      return run(store);
    } finally {
      store.close();
    }
  };

  token.command('create')
    .description('create a token and print it, once, alone on stdout')
    .requiredOption('--name <name>', 'a name to list and revoke it by')
    .option('--role <role>', 'superadmin or viewer', 'viewer')
    .action((options: { name: string; role: string }) => {
      if (!ROLES.includes(options.role as Role)) throw new UsageError(`--role: must be one of ${ROLES.join(', ')}`);
      const created = withStore((store) => {
        try {
          return store.create(options.name, options.role as Role);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
      });
      process.stdout.write(`${created}\n`);
    });

  token.command('list')
    .description('list tokens by name and role (never the tokens themselves)')
    .option('--json', 'print {tokens: [{name, role, createdAt}]}')
    .action((options: { json?: boolean }) => {
      const tokens = withStore((store) => store.list());
      if (options.json) { process.stdout.write(`${JSON.stringify({ tokens }, null, 2)}\n`); return; }
      if (tokens.length === 0) { process.stdout.write('no tokens\n'); return; }
      process.stdout.write(`${formatTable(['NAME', 'ROLE', 'CREATED (UTC)'], tokens.map((t) => [t.name, t.role, t.createdAt]))}\n`);
    });

  token.command('revoke')
    .description('revoke a token by name')
    .argument('<name>')
    .action((name: string) => {
      if (!withStore((store) => store.revoke(name))) throw new Error(`no token named "${name}"`);
      process.stdout.write(`revoked ${name}\n`);
    });

  program.command('key')
    .description('master keys')
    .command('generate')
    .description('print a new random master key (64 hex characters) for MASTER_KEY')
    .action(() => { process.stdout.write(`${randomBytes(32).toString('hex')}\n`); });
}
