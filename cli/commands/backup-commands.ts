import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../src/config/config.js';
import { isBackupId } from '../../src/backups/backup-id.js';
import { listBackups } from '../../src/backups/list-backups.js';
import type { EnqueuedJob } from '../../src/queue/enqueue.js';
import type { BackupJobData, BackupResult, JobProgress, PruneResult, RestoreJobData, RestoreResult } from '../../src/queue/job-types.js';
import type { Queues } from '../../src/queue/queues.js';
import { backup } from '../../workers/backup/backup.js';
import { prune } from '../../workers/prune/prune.js';
import { restore } from '../../workers/restore/restore.js';
import type { JobFunction } from '../../workers/runtime/bullmq-processor.js';
import { EXIT_INTERRUPTED, InterruptedError, UsageError } from '../exit-codes.js';
import { ProgressBar } from '../progress-bar.js';
import { cliLogger, connectRedis, inProcessContext, loadCliConfig, redisTarget, requireStore, SOURCE_OPTION } from '../runtime.js';
import { printArchiveRestore } from './archive-output.js';
import { printBackupTable, printPruneResult, printSwapSteps } from './backup-output.js';
import { printAnomalies, warnIfAnomalous } from './anomaly-output.js';
import { withBackupStatus } from '../../src/verification/backup-status.js';
import { readCliSecrets, sealForQueue, sealInProcess, type CliSecrets } from './cli-secrets.js';
import { parseIsoTime } from './parse-iso-time.js';

/** Which of src/queue/enqueue.js adds an operation's job (loaded only with --queue). */
type EnqueueName = 'enqueueBackup' | 'enqueueRestore' | 'enqueuePrune' | 'enqueueApply' | 'enqueueVerify';

/** print writes a result as indented JSON (--json). */
export const print = (value: unknown): void => { process.stdout.write(`${JSON.stringify(value, null, 2)}\n`); };

/**
 * runOperation runs a job function in this process (the default: works with Redis and the service
 * down), or with `--queue` enqueues it into the running service and follows it.
 */
export async function runOperation<D extends object, R>(
  config: Config,
  options: { queue?: boolean; json?: boolean },
  run: JobFunction<D, R>,
  data: D,
  enqueue: EnqueueName,
  secrets: CliSecrets = {},
): Promise<R> {
  const bar = new ProgressBar(!options.json && process.stderr.isTTY === true);
  const onProgress = (p: JobProgress): void => bar.update(p);
  try {
    if (!options.queue) {
      const logger = cliLogger(config, true);
      const store = requireStore(config, logger);
      const local = await sealInProcess(data, secrets);
      const result = await runInterruptibly((signal) =>
        run(local.data, { ...inProcessContext(config, store, logger, onProgress), ...local.context, signal }));
      // As a worker's result does, it names its source (an apply's `source` is the restore it put in place).
      return (typeof result === 'object' && result !== null && !('source' in result) && config.sourceName !== '' ? { ...result, source: config.sourceName } : result) as R;
    }
    requireStore(config);
    // BullMQ and ioredis load only for --queue: an in-process run does not pay their memory and start-up.
    const [{ createQueues }, enqueuing, { followJob }] = await Promise.all([
      import('../../src/queue/queues.js'), import('../../src/queue/enqueue.js'), import('../follow-job.js'),
    ]);
    const redis = await connectRedis(await redisTarget(config), 'producer');
    const queues = createQueues(config, redis);
    try {
      const add = enqueuing[enqueue] as (queues: Queues, data: D) => Promise<EnqueuedJob>;
      // The worker that serves the source takes it (issue 14); the CLI names the source it was scoped to.
      const sourced = config.sourceName === '' ? data : { ...data, source: config.sourceName };
      const job = await add(queues, await sealForQueue(sourced, secrets, redis, config));
      if (!options.json) process.stderr.write(`job ${job.jobId}${job.deduplicated ? ' (joined the backup already queued)' : ''}\n`);
      const status = await followJob(queues, job.jobId, onProgress);
      return status.result as R;
    } finally {
      await queues.close();
      redis.disconnect();
    }
  } finally {
    bar.done();
  }
}

/**
 * runInterruptibly gives an in-process operation an abort signal tied to Ctrl-C and SIGTERM, so a
 * stopped restore or backup removes its temporary files (decrypted plaintext, snapshots) before the
 * process exits 130, instead of leaving them for the next worker start. A second signal exits at once.
 */
export async function runInterruptibly<R>(operation: (signal: AbortSignal) => Promise<R>): Promise<R> {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) process.exit(EXIT_INTERRUPTED);
    received = signal;
    controller.abort(new InterruptedError(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await operation(controller.signal);
  } catch (err) {
    throw received ? new InterruptedError(received) : err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** registerBackupCommands adds `snapkeep backup create|list|restore|prune`. */
export function registerBackupCommands(program: Command): void {
  const group = program.command('backup').description('take, list, restore and prune backups');

  group.command('create')
    .description('take a backup now')
    .option(...SOURCE_OPTION)
    .option('--queue', 'enqueue into the running service instead of running here')
    .option('--json', 'print the result as JSON')
    .option('--passphrase-file <file>', 'lock this backup with the passphrase in <file> (`-`: standard input): an age archive that `age -d` opens')
    .action(async (options: { queue?: boolean; json?: boolean; passphraseFile?: string; source?: string }) => {
      // In this process the snapshot reads DB_PATH; with --queue the service's worker takes it.
      const config = loadCliConfig(options.queue ? {} : { database: 'always', command: 'backup create', store: true }, options.source);
      const secrets = await readCliSecrets(options);
      const result = await runOperation<BackupJobData, BackupResult>(config, options, backup, { trigger: 'cli' }, 'enqueueBackup', secrets);
      if (options.json) print(result);
      else process.stdout.write(`backup ${result.backupId} stored as ${result.key} (${result.size} bytes)\n`);
      // A worker checks its own backups; one taken here is checked here (issue 16), and flagged, never notified.
      if (!options.queue) await warnIfAnomalous(config, result);
    });

  group.command('list')
    .description('list backups, newest first')
    .option(...SOURCE_OPTION)
    .option('--json', 'print the API\'s {source, backups: […]}')
    .action(async (options: { json?: boolean; source?: string }) => {
      const config = loadCliConfig({ store: true }, options.source);
      const store = requireStore(config);
      // Anomaly flags live in the store (issue 16); drills' records in Redis, which this command does not need.
      // Warnings (future-dated, unreadable metadata) go to stderr, the listing to stdout.
      const backups = await withBackupStatus(await listBackups(store, { logger: cliLogger(config, true) }), { store, masterKeys: [config.masterKey, ...config.previousMasterKeys] });
      if (options.json) print({ source: config.sourceName, backups });
      else {
        printBackupTable(backups);
        printAnomalies(backups);
      }
    });

  group.command('restore')
    .description('restore a backup to {DB_PATH}.restore.{ID}, verified, beside the live database')
    .option(...SOURCE_OPTION)
    .requiredOption('--id <id>', 'the backup id (see `snapkeep backup list`)')
    .option('--force', 'replace an existing {DB_PATH}.restore.{ID}')
    .option('--queue', 'enqueue into the running service instead of running here')
    .option('--json', 'print the result as JSON')
    .option('--passphrase-file <file>', 'the passphrase of a passphrase backup, in <file> (`-`: standard input)')
    .option('--identity-file <file>', 'age identities (age-keygen output) for a public-key backup; only without --queue')
    .option('--target <dir>', 'archives: restore into this new directory instead of {STATE_DIR}/restore/{ID} (with --queue, on the worker\'s host, under RESTORE_ROOT)')
    .option('--trust-unverified', 'age archives: go on although their origin cannot be verified (no master key here, or no authenticator); only without --queue')
    .action(async (options: { id: string; force?: boolean; queue?: boolean; json?: boolean; passphraseFile?: string; identityFile?: string; target?: string; trustUnverified?: boolean; source?: string }) => {
      if (!isBackupId(options.id)) throw new UsageError(`--id: not a backup id: expected YYYYMMDDTHHMMSSZ-xxxxxxxx`);
      // DB_PATH only for a database backup, written beside it (the restore says so, exit 2, when it
      // is unset); an archive goes under STATE_DIR or --target, and --queue restores on the worker.
      const config = loadCliConfig(options.queue ? {} : { store: true }, options.source);
      const secrets = await readCliSecrets(options);
      const data: RestoreJobData = { backupId: options.id, ...(options.force ? { force: true } : {}), ...(options.target ? { target: resolve(options.target) } : {}) };
      const result = await runOperation<RestoreJobData, RestoreResult>(config, options, restore, data, 'enqueueRestore', secrets);
      if (options.json) print(result);
      else if (result.archive) printArchiveRestore(result);
      else printSwapSteps(result);
    });

  group.command('prune')
    .description('apply the retention policy')
    .option(...SOURCE_OPTION)
    .option('--dry-run', 'say what would be deleted, delete nothing')
    .option('--at <iso-time>', 'plan as of this UTC time instead of now (2026-11-20T12:00:00Z, or a date: 2026-11-20)')
    .option('--force', 'prune even when no backup falls in any retention window')
    .option('--queue', 'enqueue into the running service instead of running here')
    .option('--json', 'print {kept, deleted, dryRun}')
    .action(async (options: { dryRun?: boolean; at?: string; force?: boolean; queue?: boolean; json?: boolean; source?: string }) => {
      const at = options.at === undefined ? undefined : parseIsoTime(options.at);
      if (at === null) throw new UsageError(`--at: not an ISO 8601 UTC time: ${options.at} (e.g. 2026-11-20T12:00:00Z, or a date: 2026-11-20)`);
      const config = loadCliConfig(options.queue ? {} : { store: true }, options.source);
      const data = {
        dryRun: options.dryRun === true,
        ...(at ? { at: at.toISOString() } : {}),
        ...(options.force ? { force: true } : {}),
      };
      const result = await runOperation<typeof data, PruneResult>(config, options, prune, data, 'enqueuePrune');
      if (options.json) print({ kept: result.kept, deleted: result.deleted, dryRun: result.dryRun, reasons: result.reasons, ...(result.skippedReason ? { skippedReason: result.skippedReason } : {}) });
      else printPruneResult(result);
    });
}
