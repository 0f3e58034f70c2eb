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
