import type { Command } from 'commander';
import { CommandLineError, parseCommandLine } from '../../src/apply/command-line.js';
import { rollbackDatabase } from '../../src/apply/rollback-database.js';
import { isBackupId } from '../../src/backups/backup-id.js';
import type { Config } from '../../src/config/config.js';
import type { ApplyJobData, ApplyResult } from '../../src/queue/job-types.js';
import { apply } from '../../workers/apply/apply.js';
import { UsageError } from '../exit-codes.js';
import { cliLogger, loadCliConfig, SOURCE_OPTION } from '../runtime.js';
import { printApplied, printRolledBack } from './apply-output.js';
import { print, runInterruptibly, runOperation } from './backup-commands.js';
import { readCliSecrets } from './cli-secrets.js';

interface CommandOptions {
  stopCommand?: string;
  startCommand?: string;
  json?: boolean;
}

/** parseCommandOption splits --stop-command or --start-command into argv (src/apply/command-line.ts), or is a usage error. */
function parseCommandOption(flag: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  try {
    return parseCommandLine(value);
  } catch (err) {
    if (err instanceof CommandLineError) throw new UsageError(`${flag}: ${err.message}`);
    throw err;
  }
}

/** appCommandsOf is the commands from the flags, each falling back to APP_STOP_COMMAND / APP_START_COMMAND. */
function appCommandsOf(options: CommandOptions, config: Config): { stop: string[] | undefined; start: string[] | undefined } {
  return {
    stop: parseCommandOption('--stop-command', options.stopCommand) ?? config.appCommands.stop,
    start: parseCommandOption('--start-command', options.startCommand) ?? config.appCommands.start,
  };
}

/** registerApplyCommands adds `snapkeep backup apply` and `snapkeep backup rollback` to the backup group. */
export function registerApplyCommands(program: Command): void {
  const group = program.commands.find((c) => c.name() === 'backup');
  if (!group) throw new Error('the backup command group must be registered first');
  const commandHelp = 'a command (split into words with quotes, run without a shell; default: APP_STOP_COMMAND)';

  group.command('apply')
    .description('put a backup in place of the live database (and an archive\'s files), keeping what it replaces as {path}.pre-apply.{time}')
    .requiredOption('--id <id>', 'the backup id (see `snapkeep backup list`)')
    .option('--stop-command <command>', `stop the application: ${commandHelp}`)
    .option('--start-command <command>', 'start it again afterwards (default: APP_START_COMMAND)')
    .option('--queue', 'enqueue into the running service: its worker applies, with its own APP_STOP_COMMAND and APP_START_COMMAND')
    .option('--json', 'print the result as JSON')
    .option('--passphrase-file <file>', 'the passphrase of a passphrase backup, in <file> (`-`: standard input)')
    .option('--identity-file <file>', 'age identities for a public-key backup; only without --queue')
    .option('--trust-unverified', 'age archives: go on although their origin cannot be verified; only without --queue')
    .option(...SOURCE_OPTION)
    .action(async (options: CommandOptions & { id: string; queue?: boolean; passphraseFile?: string; identityFile?: string; trustUnverified?: boolean; source?: string }) => {
      if (!isBackupId(options.id)) throw new UsageError('--id: not a backup id: expected YYYYMMDDTHHMMSSZ-xxxxxxxx');
      if (options.queue && (options.stopCommand !== undefined || options.startCommand !== undefined)) {
        throw new UsageError('--stop-command and --start-command cannot go with --queue: commands never travel through Redis; set APP_STOP_COMMAND and APP_START_COMMAND on the worker');
      }
      const config = loadCliConfig(options.queue ? {} : { database: 'always', command: 'backup apply', store: true }, options.source);
      const appCommands = appCommandsOf(options, config);
      const secrets = await readCliSecrets(options);
      const run = (data: ApplyJobData, ctx: Parameters<typeof apply>[1]): Promise<ApplyResult> => apply(data, { ...ctx, appCommands });
      const result = await runOperation<ApplyJobData, ApplyResult>(config, options, run, { backupId: options.id }, 'enqueueApply', secrets);
      if (options.json) print(result);
      else printApplied(result);
    });

  group.command('rollback')
    .description('put back the newest {DB_PATH}.pre-apply.{time} copy, keeping the database it replaces as {DB_PATH}.pre-rollback.{time}')
    .option('--stop-command <command>', `stop the application: ${commandHelp}`)
    .option('--start-command <command>', 'start it again afterwards (default: APP_START_COMMAND)')
    .option('--json', 'print the result as JSON')
    .option(...SOURCE_OPTION)
    .action(async (options: CommandOptions & { source?: string }) => {
      const config = loadCliConfig({ database: 'always', command: 'backup rollback' }, options.source);
      const commands = { ...appCommandsOf(options, config), env: config.appCommands.env };
      const result = await runInterruptibly(() => rollbackDatabase({ dbPath: config.dbPath!, commands, logger: cliLogger(config, true) }));
      if (options.json) print(result);
      else printRolledBack(result);
    });
}
