import type { PassphraseKeyring } from '../../src/age/ephemeral-keyring.js';
import type { Config } from '../../src/config/config.js';
import type { Logger } from '../../src/logging/create-logger.js';
import type { JobProgress } from '../../src/queue/job-types.js';
import type { BackupStore } from '../../src/storage/backup-store.js';

/**
 * JobContext is everything a job function needs, with no BullMQ type in it: the CLI builds one to run
 * a job in-process, the BullMQ adapter builds one per attempt.
 */
export interface JobContext {
  config: Config;
  store: BackupStore;
  logger: Logger;
  reportProgress(progress: JobProgress): void;
  signal?: AbortSignal;
  /** Ids of backups that unfinished restore jobs need, which prune spares; absent where no queue can say (the CLI). */
  backupsBeingRestored?: () => Promise<Set<string>>;
  /** Opens passphrases sealed for this process: a worker's ephemeral key, or the CLI's own (src/age). */
  keyring?: PassphraseKeyring;
  /** age identities from the CLI's --identity-file: held in memory only, never put in job data. */
  ageIdentities?: readonly string[];
  /**
   * The CLI's --trust-unverified: restore an age archive whose origin cannot be verified (no master
   * key here, or no authenticator). Only ever set by the operator at the keyboard, never from Redis.
   */
  trustUnverifiedOrigin?: boolean;
  /**
   * The CLI's --stop-command and --start-command (argv), used by `backup apply` in place of
   * APP_STOP_COMMAND and APP_START_COMMAND. Only ever set at the keyboard: a queued apply runs the
   * commands of the worker's own settings, never one from Redis.
   */
  appCommands?: { stop?: string[]; start?: string[] };
}
