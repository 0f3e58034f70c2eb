import type { Command } from 'commander';
import type { Config } from '../../src/config/config.js';
import { isBackupId } from '../../src/backups/backup-id.js';
import { listBackups } from '../../src/backups/list-backups.js';
import { enqueueBackup, enqueuePrune, enqueueRestore, type EnqueuedJob } from '../../src/queue/enqueue.js';
import type { BackupResult, JobProgress, PruneResult, RestoreResult } from '../../src/queue/job-types.js';
import { createQueues, type Queues } from '../../src/queue/queues.js';
import { backup } from '../../workers/backup.js';
import { prune } from '../../workers/prune.js';
import { restore } from '../../workers/restore.js';
import type { JobFunction } from '../../workers/bullmq-processor.js';
import { UsageError } from '../exit-codes.js';
import { followJob } from '../follow-job.js';
import { ProgressBar } from '../progress-bar.js';
import { cliLogger, connectRedis, inProcessContext, loadCliConfig, redisTarget, requireStore } from '../runtime.js';
import { printBackupTable, printPruneResult, printSwapSteps } from './backup-output.js';

const print = (value: unknown): void => { process.stdout.write(`${JSON.stringify(value, null, 2)}\n`); };

/**
 * runOperation runs a job function in this process (the default: works with Redis and the service
 * down), or with `--queue` enqueues it into the running service and follows it.
 */
async function runOperation<D, R>(
  config: Config,
  options: { queue?: boolean; json?: boolean },
  run: JobFunction<D, R>,
  data: D,
  enqueue: (queues: Queues, data: D) => Promise<EnqueuedJob>,
): Promise<R> {
  const bar = new ProgressBar(!options.json && process.stderr.isTTY === true);
  const onProgress = (p: JobProgress): void => bar.update(p);
  try {
    if (!options.queue) {
      const store = requireStore(config);
      return await run(data, inProcessContext(config, store, cliLogger(config, true), onProgress));
    }
    requireStore(config);
    const redis = await connectRedis(redisTarget(config), 'producer');
    const queues = createQueues(config, redis);
    try {
      const job = await enqueue(queues, data);
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

/** registerBackupCommands adds `snapkeep backup create|list|restore|prune`. */
export function registerBackupCommands(program: Command): void {
  const group = program.command('backup').description('take, list, restore and prune backups');

  group.command('create')
    .description('take a backup now')
    .option('--queue', 'enqueue into the running service instead of running here')
    .option('--json', 'print the result as JSON')
    .action(async (options: { queue?: boolean; json?: boolean }) => {
      const config = loadCliConfig({ database: true });
      const result = await runOperation<{ trigger: 'cli' }, BackupResult>(config, options, backup, { trigger: 'cli' }, enqueueBackup);
      if (options.json) print(result);
      else process.stdout.write(`backup ${result.backupId} stored as ${result.key} (${result.size} bytes)\n`);
    });

  group.command('list')
    .description('list backups, newest first')
    .option('--json', 'print the API\'s {backups: […]}')
    .action(async (options: { json?: boolean }) => {
      const config = loadCliConfig();
      const backups = await listBackups(requireStore(config));
      if (options.json) print({ backups });
      else printBackupTable(backups);
    });

  group.command('restore')
    .description('restore a backup to {DB_PATH}.restore.{ID}, verified, beside the live database')
    .requiredOption('--id <id>', 'the backup id (see `snapkeep backup list`)')
    .option('--force', 'replace an existing {DB_PATH}.restore.{ID}')
    .option('--queue', 'enqueue into the running service instead of running here')
    .option('--json', 'print the result as JSON')
    .action(async (options: { id: string; force?: boolean; queue?: boolean; json?: boolean }) => {
      if (!isBackupId(options.id)) throw new UsageError(`--id: not a backup id: expected YYYYMMDDTHHMMSSZ-xxxxxxxx`);
      const config = loadCliConfig({ database: true });
      const data = { backupId: options.id, ...(options.force ? { force: true } : {}) };
      const result = await runOperation<typeof data, RestoreResult>(config, options, restore, data, enqueueRestore);
      if (options.json) print(result);
      else printSwapSteps(config.dbPath!, result);
    });

  group.command('prune')
    .description('apply the retention policy')
    .option('--dry-run', 'say what would be deleted, delete nothing')
    .option('--at <iso-time>', 'plan as of this time instead of now')
    .option('--force', 'prune even when no backup falls in any retention window')
    .option('--queue', 'enqueue into the running service instead of running here')
    .option('--json', 'print {kept, deleted, dryRun}')
    .action(async (options: { dryRun?: boolean; at?: string; force?: boolean; queue?: boolean; json?: boolean }) => {
      if (options.at !== undefined && Number.isNaN(Date.parse(options.at))) throw new UsageError(`--at: not an ISO time: ${options.at}`);
      const config = loadCliConfig();
      const data = {
        dryRun: options.dryRun === true,
        ...(options.at ? { at: new Date(options.at).toISOString() } : {}),
        ...(options.force ? { force: true } : {}),
      };
      const result = await runOperation<typeof data, PruneResult>(config, options, prune, data, enqueuePrune);
      if (options.json) print({ kept: result.kept, deleted: result.deleted, dryRun: result.dryRun, reasons: result.reasons, ...(result.skippedReason ? { skippedReason: result.skippedReason } : {}) });
      else printPruneResult(result);
    });
}
