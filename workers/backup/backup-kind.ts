import type { Config } from '../../src/config/config.js';
import type { BackupJobData } from '../../src/queue/job-types.js';

/**
 * isArchiveOrAgeBackup tells whether a backup is an archive (include paths, streams) or
 * age-encrypted (a passphrase, BACKUP_AGE_RECIPIENTS) rather than a CRBU v1 database. It lives
 * apart from backup-archive.ts so that deciding costs nothing: the archive and age code loads
 * only when needed.
 */
export function isArchiveOrAgeBackup(config: Config, data: BackupJobData): boolean {
  return isArchive(config) || data.sealedPassphrase !== undefined || config.ageRecipients.length > 0;
}

/**
 * isArchive says whether a source's backup is a tar archive: it has include paths or streams. A
 * source with neither is its database alone (and one with nothing at all fails as such, naming
 * DB_PATH).
 */
export function isArchive(config: Pick<Config, 'includePaths' | 'streams'>): boolean {
  return config.includePaths.length > 0 || config.streams.length > 0;
}
