#!/usr/bin/env -S node --max-semi-space-size=4
// First: it must run before the other modules allocate (see memory-settings.ts).
import './memory-settings.js';
import { Command, CommanderError } from 'commander';
import { VERSION } from '../src/version.js';
import { registerApplyCommands } from './commands/apply-commands.js';
import { registerBackupCommands } from './commands/backup-commands.js';
import { registerDrillCommands } from './commands/drill-commands.js';
import { registerTokenCommands } from './commands/token-commands.js';
import { EXIT_USAGE, reportFailure } from './exit-codes.js';
import type { ServiceRole } from './processes/run-service.js';
import { loadCliConfig, readEnvironment } from './runtime.js';

// Every file snapkeep creates (STATE_DIR's token database, heartbeat, embedded Redis files,
// snapshots, restores, a directory store's backups) is for its own user only, whatever umask the
// shell or process manager that started it had. Restores get their final modes explicitly.
process.umask(0o077);

const program = new Command('snapkeep')
  .description('encrypted, verified backups of a SQLite application to S3-compatible storage')
  .version(VERSION)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

const services: Array<[ServiceRole, string]> = [
  ['serve', 'API, worker and scheduler in one process (embedded Redis when REDIS_URL is unset)'],
  ['api', 'the HTTP API and dashboard only'],
  ['worker', 'job processing and the scheduler only'],
];
let runningService = false;
for (const [role, description] of services) {
  program.command(role).description(description).action(async () => {
    // Loaded only here: the API's modules (Express, Bull Board, metrics) would cost every one-shot
    // command (`backup create`, `token create`) about 20 MB of memory and a fraction of a second.
    const { runService } = await import('./processes/run-service.js');
    // `api` only enqueues; `serve` and `worker` run the backup and restore jobs that read DB_PATH.
    const config = loadCliConfig(role === 'api' ? {} : { database: 'with-store', command: role });
    // For tests only, not a setting: a heartbeat every N ms instead of every 10 s.
    const heartbeatMs = Number(readEnvironment().SNAPKEEP_INTERNAL_TEST_HEARTBEAT_MS ?? '');
    await runService(role, config, heartbeatMs > 0 ? { heartbeatIntervalMs: heartbeatMs } : {});
    runningService = true;
  });
}
registerBackupCommands(program);
registerApplyCommands(program);
registerDrillCommands(program);
registerTokenCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, with exit code 0.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    process.exitCode = reportFailure(err);
  }
}
// A one-shot command is done: exit without waiting for idle keep-alive sockets to time out.
if (!runningService) {
  // On Node 24 a pipe's writes may still be queued here: exiting at once cut a long `backup prune`
  // listing off after about 170 lines. An empty write's callback runs once all before it went out.
  const drained = (stream: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => { stream.write('', () => resolve()); });
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(process.exitCode ?? 0);
}
