import type { Command } from 'commander';
import { isBackupId } from '../../src/backups/backup-id.js';
import { listBackups, newestBackup } from '../../src/backups/list-backups.js';
import { coerceError, SnapkeepError } from '../../src/errors.js';
import { clearAnomalyRecord } from '../../src/guardrail/anomaly-records.js';
import { pingHealthchecks, postWebhook } from '../../src/notify/deliver.js';
import { newNotification } from '../../src/notify/notification-event.js';
import { HEALTHCHECKS_TARGET, webhookTargets } from '../../src/notify/notify-targets.js';
import { describeUrl } from '../../src/notify/redact-secrets.js';
import type { VerifyJobData, VerifyResult } from '../../src/queue/job-types.js';
import { verify } from '../../workers/verify/verify.js';
import { EXIT_FAILED, UsageError } from '../exit-codes.js';
import { loadCliConfig, requireStore, SOURCE_OPTION } from '../runtime.js';
import { print, runOperation } from './backup-commands.js';
import { readCliSecrets } from './cli-secrets.js';
import { printNotifyAnswers, printVerifyResult, type NotifyAnswer } from './drill-output.js';

/**
 * registerDrillCommands adds issue 16's commands: `backup verify` (a restore drill) and `backup
 * accept` (clear an anomaly flag) to the backup group, and `notify test`.
 */
export function registerDrillCommands(program: Command): void {
  const group = program.commands.find((c) => c.name() === 'backup');
  if (!group) throw new Error('the backup command group must be registered first');

  group.command('verify')
    .description('restore drill: download, decrypt, integrity_check and compare the content fingerprint, in STATE_DIR/tmp (nothing beside DB_PATH); exit 0 verified, 1 not')
    .option('--id <id>', 'the backup id (see `snapkeep backup list`)')
    .option('--latest', 'the newest backup')
    .option('--queue', 'enqueue into the running service (which records the result and notifies a failure) instead of running here')
    .option('--json', 'print the result as JSON')
    .option('--passphrase-file <file>', 'the passphrase of a passphrase backup, in <file> (`-`: standard input)')
    .option('--identity-file <file>', 'age identities for a public-key backup; only without --queue')
    .option(...SOURCE_OPTION)
    .action(async (options: { id?: string; latest?: boolean; queue?: boolean; json?: boolean; passphraseFile?: string; identityFile?: string; source?: string }) => {
      if ((options.id === undefined) === (options.latest !== true)) throw new UsageError('give either --id ID or --latest');
      if (options.id !== undefined && !isBackupId(options.id)) throw new UsageError('--id: not a backup id: expected YYYYMMDDTHHMMSSZ-xxxxxxxx');
      const config = loadCliConfig(options.queue ? {} : { store: true }, options.source);
      const secrets = await readCliSecrets(options);
      const backupId = options.id ?? (await newestId(config));
      const result = await runOperation<VerifyJobData, VerifyResult>(config, options, verify, { trigger: 'cli', backupId }, 'enqueueVerify', secrets);
      if (options.json) print(result);
      else printVerifyResult(result);
      if (!result.verified) process.exitCode = EXIT_FAILED;
    });

  group.command('accept')
    .description('accept a backup flagged as an anomaly (the database really shrank): the retention policy decides again about the backup kept before it')
    .requiredOption('--id <id>', 'the flagged backup\'s id')
    .option('--json', 'print {backupId, accepted}')
    .option(...SOURCE_OPTION)
    .action(async (options: { id: string; json?: boolean; source?: string }) => {
      if (!isBackupId(options.id)) throw new UsageError('--id: not a backup id: expected YYYYMMDDTHHMMSSZ-xxxxxxxx');
      const config = loadCliConfig({ store: true }, options.source);
      if (!(await clearAnomalyRecord(requireStore(config), options.id))) throw new SnapkeepError('not_flagged', `backup ${options.id} is not flagged as an anomaly`);
      if (options.json) print({ backupId: options.id, accepted: true });
      else process.stdout.write(`anomaly of backup ${options.id} accepted: the retention policy decides again about the backup kept before it\n`);
    });

  program.command('notify')
    .description('notifications (NOTIFY_WEBHOOK_URLS, NOTIFY_HEALTHCHECKS_URL)')
    .command('test')
    .description('send a test event to every configured target and report each answer; exit 1 unless all answered 2xx')
    .option('--json', 'print {targets: […]}')
    .action(async (options: { json?: boolean }) => {
      const config = loadCliConfig({});
      const answers = await sendTestNotifications(config);
      if (options.json) print({ targets: answers });
      else if (answers.length === 0) process.stdout.write('no notification target is configured (NOTIFY_WEBHOOK_URLS, NOTIFY_HEALTHCHECKS_URL)\n');
      else printNotifyAnswers(answers);
      if (answers.length === 0 || answers.some((a) => !a.ok)) process.exitCode = EXIT_FAILED;
    });
}

async function newestId(config: Parameters<typeof requireStore>[0]): Promise<string> {
  const newest = newestBackup(await listBackups(requireStore(config)));
  if (!newest) throw new SnapkeepError('backup_not_found', 'there is no backup to verify');
  return newest.id;
}

/**
 * sendTestNotifications sends `notify.test` to each webhook and a `/log` ping (which changes no
 * check's state) to healthchecks, directly (no queue, no retry), and collects the answers.
 */
async function sendTestNotifications(config: ReturnType<typeof loadCliConfig>): Promise<NotifyAnswer[]> {
  const event = newNotification(config, { event: 'notify.test', message: 'a test notification from `snapkeep notify test`' });
  const attempt = async (target: string, url: string, send: () => Promise<{ status: number }>): Promise<NotifyAnswer> => {
    try {
      return { target, url: describeUrl(url), ok: true, status: (await send()).status };
    } catch (error) {
      return { target, url: describeUrl(url), ok: false, error: coerceError(error).message };
    }
  };
  const answers = await Promise.all(webhookTargets(config.notify).map((t) =>
    attempt(t.id, t.url, () => postWebhook(t.url, event, config.notify.webhookSecret))));
  const hc = config.notify.healthchecksUrl;
  if (hc) answers.push(await attempt(HEALTHCHECKS_TARGET, hc, () => pingHealthchecks(hc, 'log', 'snapkeep notify test')));
  return answers;
}
