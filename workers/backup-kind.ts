import type { Config } from '../src/config/config.js';
import type { BackupJobData } from '../src/queue/job-types.js';

/**
 * isArchiveOrAgeBackup tells whether a backup is an archive (BACKUP_INCLUDE_PATHS) or age-encrypted
 * (a passphrase, BACKUP_AGE_RECIPIENTS) rather than a CRBU v1 database. It lives apart from
 * backup-archive.ts so that deciding costs nothing: the archive and age code loads only when needed.
 */
export function isArchiveOrAgeBackup(config: Config, data: BackupJobData): boolean {
  return config.includePaths.length > 0 || data.sealedPassphrase !== undefined || config.ageRecipients.length > 0;
}
