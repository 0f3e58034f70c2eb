import type { BackupEntry } from '../../src/backups/list-backups.js';
import type { Config } from '../../src/config/config.js';
import type { BackupResult } from '../../src/queue/job-types.js';
import type { BackupStatus } from '../../src/verification/backup-status.js';
import { checkForAnomaly } from '../../workers/guardrail/check-anomaly.js';
import { createLogger } from '../../src/logging/create-logger.js';
import { requireStore } from '../runtime.js';

/** printAnomalies lists, after the table, each backup flagged as an anomaly and how to accept it. */
export function printAnomalies(backups: Array<BackupEntry & BackupStatus>): void {
  for (const b of backups) {
    if (!b.anomaly) continue;
    process.stdout.write(`\nbackup ${b.id} is flagged as an anomaly: ${b.anomaly.reason}\n`
      + `  backup ${b.anomaly.previousId} is kept until \`snapkeep backup accept --id ${b.id}\`\n`);
  }
}

/**
 * warnIfAnomalous runs the guardrail on a backup this process just took (the CLI without
 * --queue): a flagged backup is recorded in the store as a worker would, and said on stderr.
 */
export async function warnIfAnomalous(config: Config, result: BackupResult): Promise<void> {
  // The warning below says it for people; the log line would say it twice.
  const logger = createLogger({ level: 'error', format: config.log.format });
  const anomaly = await checkForAnomaly(result, { config, store: requireStore(config, logger), logger });
  if (!anomaly) return;
  process.stderr.write(`snapkeep: warning: backup ${anomaly.backupId} looks like an emptied database: ${anomaly.reasons.join('; ')}\n`
    + `snapkeep: backup ${anomaly.previousId} is kept until \`snapkeep backup accept --id ${anomaly.backupId}\`\n`);
}
