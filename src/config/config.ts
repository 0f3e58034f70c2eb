/** Config is every setting, read once by loadConfig and passed down; nothing else reads process.env. */
export interface Config {
  dbPath: string | undefined;
  masterKey: Buffer | undefined;
  previousMasterKeys: Buffer[];
  /** Where backups go; undefined when neither S3 nor a local directory is configured. */
  store: S3StoreConfig | LocalStoreConfig | undefined;
  schedule: ScheduleConfig;
  retention: RetentionPolicy;
  jobs: { attempts: number; backoffMs: number };
  redisUrl: string | undefined;
  queuePrefix: string;
  host: string;
  port: number;
  /**
   * Which proxies in front of the API to believe about the client's address (X-Forwarded-For), as
   * Express's `trust proxy`: a number of hops, or addresses, CIDR ranges and the names `loopback`,
   * `linklocal`, `uniquelocal`. undefined: none, the peer's address is the client's.
   */
  trustProxy: number | string[] | undefined;
  stateDir: string;
  /** Where queued archive restores may write (RESTORE_ROOT, default `{STATE_DIR}/restore`): a job's target must be under it. */
  restoreRoot: string;
  log: { level: string; format: 'json' | 'pretty' };
  includePaths: string[];
  exclude: string[];
  ageRecipients: string[];
  /** BACKUP_COMPRESSION / BACKUP_COMPRESSION_LEVEL: zstd before encryption, or none (CRBU v1 as other readers know it). */
  compression: { type: 'none' | 'zstd'; level: number };
  /** Where notifications go (NOTIFY_*): webhooks and a healthchecks.io-style ping URL. */
  notify: NotifyConfig;
  /** BACKUP_VERIFY_SCHEDULE_HOURS: how often a restore drill runs (default weekly), or off. */
  verifySchedule: ScheduleConfig;
  /** ANOMALY_SHRINK_PERCENT: a backup whose database or a table shrank by more than this is flagged; 0 turns the check off. */
  anomalyShrinkPercent: number;
  /** The application's stop and start commands for `backup apply` (APP_STOP_COMMAND, APP_START_COMMAND). */
  appCommands: AppCommands;
  /**
   * Commands whose stdout is stored as an archive member `streams/{name}` (a source's `streams` in
   * SNAPKEEP_CONFIG; none from the environment). In a source-scoped Config (configForSource) only.
   */
  streams: StreamConfig[];
  /** The source this Config is scoped to (`default` without SNAPKEEP_CONFIG): job results and listings carry it. */
  sourceName: string;
  /** Every declared source (SNAPKEEP_CONFIG's, or the one `default` the environment describes). */
  sources: SourceConfig[];
  /** SNAPKEEP_HOST: this worker's name in the fleet (default the host name); it serves the sources whose `host` is this or unset. */
  fleetHost: string;
  /** BACKUP_CONCURRENCY: backups of different sources one worker process runs at once (one per source always). */
  backupConcurrency: number;
}

/** StreamConfig is one command whose stdout a backup stores as `streams/{name}`, and how to feed it back. */
export interface StreamConfig {
  /** [a-z0-9][a-z0-9._-]{0,63}: the member's name under `streams/`. */
  name: string;
  /** argv, run without a shell, in the worker's environment minus snapkeep's settings. */
  command: string[];
  /** argv that `backup apply` pipes the restored member into; optional. */
  restoreCommand?: string[];
}

/**
 * SourceConfig is one named thing to back up: a database, directories, command streams, with its
 * own schedule, retention and encryption. Store, keys, Redis and job settings stay global.
 */
export interface SourceConfig {
  name: string;
  /** The worker (SNAPKEEP_HOST) that has these files; undefined: any worker may serve it. */
  host: string | undefined;
  dbPath: string | undefined;
  includePaths: string[];
  exclude: string[];
  streams: StreamConfig[];
  schedule: ScheduleConfig;
  retention: RetentionPolicy;
  ageRecipients: string[];
  /** zstd before encryption, or none; default BACKUP_COMPRESSION and BACKUP_COMPRESSION_LEVEL. */
  compression: Config['compression'];
}

/**
 * AppCommands are the commands that stop and start the application around an apply, each split
 * into argv (src/apply/command-line.ts: quotes, no shell), and the environment they run with:
 * only PATH, HOME, locale and session variables, never snapkeep's own settings and secrets.
 */
export interface AppCommands {
  stop: string[] | undefined;
  start: string[] | undefined;
  env: Record<string, string>;
}

/** NotifyConfig is where notifications go; the URLs and the secret are never logged nor put in job data. */
export interface NotifyConfig {
  /** NOTIFY_WEBHOOK_URLS: a JSON POST per event to each. */
  webhookUrls: string[];
  /** NOTIFY_WEBHOOK_SECRET: the HMAC key of `X-Snapkeep-Signature`; unset, webhooks go unsigned. */
  webhookSecret: string | undefined;
  /** NOTIFY_ON_SUCCESS: also send `backup.succeeded`. */
  onSuccess: boolean;
  /** NOTIFY_HEALTHCHECKS_URL, without a trailing slash: `/start`, `` and `/fail` pings around scheduled backups. */
  healthchecksUrl: string | undefined;
}

export interface S3StoreConfig {
  type: 's3';
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  prefix: string;
  forcePathStyle: boolean;
  /**
   * Send Content-MD5 with every part and single put (BACKUP_S3_CONTENT_MD5): S3 refuses uploads to a
   * bucket with Object Lock default retention without it. Optional: it costs an MD5 of every byte.
   */
  contentMd5?: boolean;
  /**
   * Parts uploaded at once (BACKUP_S3_PART_CONCURRENCY): each holds a part buffer, so an upload
   * holds at most this many × the part size (8 MiB) of memory.
   */
  partConcurrency?: number;
}

export interface LocalStoreConfig {
  type: 'local';
  dir: string;
}

/** ScheduleConfig: an interval in milliseconds, a cron pattern, or off. */
export type ScheduleConfig =
  | { type: 'off' }
  | { type: 'every'; everyMs: number }
  | { type: 'cron'; pattern: string; tz: string };

/** RetentionPolicy: how many UTC days and ISO weeks keep their newest backup. */
export interface RetentionPolicy {
  dailyDays: number;
  weeklyWeeks: number;
}
