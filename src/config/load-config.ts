import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import Joi from 'joi';
import { zstdAvailable } from '../compression/zstd.js';
import { CommandLineError, parseCommandLine } from '../apply/command-line.js';
import { SnapkeepError } from '../errors.js';
import { hostname } from 'node:os';
import type { AppCommands, Config, ScheduleConfig, SourceConfig } from './config.js';
import { DEFAULT_SOURCE, FLEET_HOST, readSourcesFile } from './sources-file.js';
import { primarySource, scopeToSource } from './source-config.js';
import { MONITORING_SCHEMA, readMonitoringSettings } from './monitoring-settings.js';

/**
 * ConfigError lists every invalid setting at once, one line each, naming the variable: the CLI
 * exits 2 on it. A job that meets one fails at once: another attempt would meet it again.
 */
export class ConfigError extends SnapkeepError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('invalid_config', problems.join('\n'), { retryable: false });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * ConfigNeeds says what a command cannot run without. Only what reads or writes the database
 * needs DB_PATH: `always` for a command that does so in its own process (`backup create`),
 * `with-store` for a process that runs backup and restore jobs once a store is configured
 * (`serve`, `worker`). Listing, pruning, enqueueing (`api`, `--queue`) and tokens never need it.
 */
export interface ConfigNeeds {
  database?: 'always' | 'with-store';
  /** The command, named in the message: `backup create`, `worker`. */
  command?: string;
  /** True for a command that cannot run without a store (`backup create|list|restore|prune`). */
  store?: boolean;
}

/** Parts in flight by default: see docs/benchmarks.md ("Uploads over a 30 ms link") for the measurement. */
const DEFAULT_PART_CONCURRENCY = 4;

const DB_PATH_MEANING = 'the SQLite database to back up; restores are written beside it';

/** requireDbPath is DB_PATH, or the settings error naming it for a command that cannot go on without it. */
export function requireDbPath(config: Config, purpose: string): string {
  if (config.dbPath === undefined) throw new ConfigError([`DB_PATH: is required ${purpose}: ${DB_PATH_MEANING}`]);
  return config.dbPath;
}

const hexKey = Joi.string().pattern(/^[0-9a-fA-F]{64}$/).messages({
  'string.pattern.base': 'must be 32 bytes as 64 hex characters',
});
const empty = Joi.string().allow('');

// Secrets: joi's messages never echo a value here because every rule below reports only its shape.
const schema = Joi.object({
  DB_PATH: empty,
  MASTER_KEY: hexKey.allow(''),
  MASTER_KEY_PREVIOUS: Joi.string()
    .allow('')
    .pattern(/^\s*[0-9a-fA-F]{64}\s*(,\s*[0-9a-fA-F]{64}\s*)*$/)
    .messages({ 'string.pattern.base': 'must be comma-separated keys of 64 hex characters each' }),
  BACKUP_S3_ENDPOINT: Joi.string().allow('').uri({ scheme: ['http', 'https'] }).messages({ 'string.uri': 'must be an http(s) URL' }),
  BACKUP_S3_REGION: empty.default('us-east-1'),
  BACKUP_S3_BUCKET: empty,
  BACKUP_S3_ACCESS_KEY: empty,
  BACKUP_S3_SECRET_KEY: empty,
  BACKUP_S3_PREFIX: empty.default('backups/'),
  BACKUP_S3_FORCE_PATH_STYLE: Joi.boolean().truthy('1', 'yes').falsy('0', 'no').default(true),
  BACKUP_S3_CONTENT_MD5: Joi.boolean().truthy('1', 'yes').falsy('0', 'no').default(false),
  BACKUP_S3_PART_CONCURRENCY: Joi.number().integer().min(1).max(64).default(DEFAULT_PART_CONCURRENCY),
  BACKUP_LOCAL_DIR: empty,
  BACKUP_SCHEDULE_HOURS: Joi.number().min(0).max(24 * 366).default(24),
  BACKUP_SCHEDULE_CRON: Joi.string().allow('').pattern(/^\S+(\s+\S+){4,5}$/).messages({ 'string.pattern.base': 'must be a cron pattern of 5 or 6 fields, e.g. "0 2 * * *"' }),
  BACKUP_SCHEDULE_TZ: Joi.string().default('UTC').custom((tz: string) => {
    // Intl throws RangeError on an unknown IANA zone: that is the check.
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  }).messages({ 'any.custom': 'must be an IANA time zone such as UTC or Europe/Berlin' }),
  BACKUP_RETAIN_DAILY_DAYS: Joi.number().integer().min(0).max(3660).default(7),
  BACKUP_RETAIN_WEEKLY_WEEKS: Joi.number().integer().min(0).max(520).default(4),
  BACKUP_JOB_ATTEMPTS: Joi.number().integer().min(1).max(100).default(3),
  BACKUP_JOB_BACKOFF_MS: Joi.number().integer().min(0).max(3_600_000).default(5000),
  REDIS_URL: Joi.string().allow('').uri({ scheme: ['redis', 'rediss'] }).messages({ 'string.uri': 'must be a redis:// or rediss:// URL' }),
  QUEUE_PREFIX: Joi.string().pattern(/^[A-Za-z0-9_{}.-]+$/).default('snapkeep').messages({ 'string.pattern.base': 'may hold letters, digits, underscore, dot, dash and braces only' }),
  HOST: Joi.string().default('127.0.0.1'),
  PORT: Joi.number().integer().min(0).max(65535).default(7100),
  TRUST_PROXY: empty,
  STATE_DIR: Joi.string().default('./data'),
  RESTORE_ROOT: empty,
  LOG_LEVEL: Joi.string().valid('error', 'warn', 'info', 'debug').default('info'),
  LOG_FORMAT: Joi.string().valid('json', 'pretty').default('json'),
  BACKUP_INCLUDE_PATHS: empty,
  BACKUP_EXCLUDE: empty,
  BACKUP_COMPRESSION: Joi.string().valid('none', 'zstd').default('none'),
  BACKUP_COMPRESSION_LEVEL: Joi.number().integer().min(1).max(19).default(3),
  BACKUP_AGE_RECIPIENTS: Joi.string().allow('').pattern(/^\s*age1[0-9a-z]+\s*(,\s*age1[0-9a-z]+\s*)*$/).messages({ 'string.pattern.base': 'must be comma-separated age public keys (age1…)' }),
  APP_STOP_COMMAND: empty,
  APP_START_COMMAND: empty,
  SNAPKEEP_CONFIG: empty,
  SNAPKEEP_HOST: Joi.string().allow('').pattern(FLEET_HOST).messages({ 'string.pattern.base': 'must be a host name of letters, digits, ".", "_" and "-" (at most 63)' }),
  BACKUP_CONCURRENCY: Joi.number().integer().min(1).max(64).default(2),
  ...MONITORING_SCHEMA,
}).unknown(true);

const REQUIRED_WITH_ENDPOINT = ['BACKUP_S3_BUCKET', 'BACKUP_S3_ACCESS_KEY', 'BACKUP_S3_SECRET_KEY'] as const;

/**
 * readEnvFile reads `.env` from a directory if there is one; the process environment wins over it.
 * Node's parseEnv skips a line it cannot read, so a line such as `MASTER_KEY 0a1b…` (no `=`) would
 * vanish and the key be reported missing: every such line is a settings error naming its number
 * (never its text, which may hold a secret).
 */
export function readEnvFile(dir: string = process.cwd()): Record<string, string | undefined> {
  const file = resolve(dir, '.env');
  if (!existsSync(file)) return {};
  const text = readFileSync(file, 'utf8');
  const problems = unreadableEnvLines(text).map((n) => `${file} line ${n}: is not NAME=value (no "=" after a variable name)`);
  if (problems.length > 0) throw new ConfigError(problems);
  return parseEnv(text);
}

/** unreadableEnvLines are the 1-based numbers of lines that are neither blank, a comment, nor NAME=value (a quoted value may span lines). */
export function unreadableEnvLines(text: string): number[] {
  const bad: number[] = [];
  const lines = text.split(/\r?\n/);
  let openQuote: string | undefined;
  lines.forEach((line, i) => {
    if (openQuote !== undefined) {
      if (line.includes(openQuote)) openQuote = undefined;
      return;
    }
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const m = /^(?:export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*=\s*(["'`]?)(.*)$/.exec(trimmed);
    if (!m) { bad.push(i + 1); return; }
    const quote = m[1];
    if (quote && !m[2]!.includes(quote)) openQuote = quote;
  });
  return bad;
}

/**
 * loadConfig validates the environment and returns a frozen Config, or throws a ConfigError that
 * lists every problem at once. `needs` names what the calling command cannot run without.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  needs: ConfigNeeds = {},
): Config {
  const { value, error } = schema.validate(env, { abortEarly: false, convert: true });
  const problems: string[] = error
    ? error.details.map((d) => `${String(d.path[0])}: ${d.message.replace(/^"[^"]+" /, '')}`)
    : [];
  const v = value as Record<string, string | number | boolean | undefined>;
  const str = (name: string): string => ((v[name] as string | undefined) ?? '').trim();

  const endpoint = str('BACKUP_S3_ENDPOINT');
  const localDir = str('BACKUP_LOCAL_DIR');
  const enabled = endpoint !== '' || localDir !== '';
  if (endpoint !== '' && localDir !== '') {
    problems.push('BACKUP_LOCAL_DIR: cannot be set together with BACKUP_S3_ENDPOINT; choose one store');
  }
  if (endpoint !== '') {
    for (const name of REQUIRED_WITH_ENDPOINT) if (str(name) === '') problems.push(`${name}: is required when BACKUP_S3_ENDPOINT is set`);
  }
  if (enabled && str('MASTER_KEY') === '') problems.push('MASTER_KEY: is required when backups are enabled (generate one with `snapkeep key generate`)');
  const sourcesFile = str('SNAPKEEP_CONFIG');
  const needsDatabase = needs.database === 'always' || (needs.database === 'with-store' && enabled);
  // With SNAPKEEP_CONFIG each source says what it backs up (checked there), and the environment's
  // per-source settings would be silently ignored: refuse them, naming each.
  if (sourcesFile !== '') {
    for (const name of PER_SOURCE_SETTINGS) if (str(name) !== '') problems.push(`${name}: cannot be set together with SNAPKEEP_CONFIG: declare it in a source of ${sourcesFile}`);
  } else if (needsDatabase && str('DB_PATH') === '') {
    const by = needs.command ? ` by \`snapkeep ${needs.command}\`` : '';
    problems.push(`DB_PATH: is required${by}: ${DB_PATH_MEANING}`);
  }
  if (needs.store && !enabled) {
    problems.push('BACKUP_S3_ENDPOINT: is required (or BACKUP_LOCAL_DIR): backups are disabled without a store to keep them in');
  }
  if (str('BACKUP_S3_PREFIX').startsWith('/')) problems.push('BACKUP_S3_PREFIX: must not start with "/"');
  if (str('BACKUP_COMPRESSION') === 'zstd' && !zstdAvailable()) problems.push(`BACKUP_COMPRESSION: zstd needs Node >= 22.15 (this is ${process.version})`);
  const restoreRoot = str('RESTORE_ROOT');
  if (restoreRoot !== '' && /^\/(proc|sys|dev)(\/|$)/.test(resolve(restoreRoot))) problems.push('RESTORE_ROOT: must not be under /proc, /sys or /dev');
  const trustProxy = parseTrustProxy(str('TRUST_PROXY'));
  if (trustProxy instanceof Error) problems.push(`TRUST_PROXY: ${trustProxy.message}`);
  const stop = parseCommandSetting(str('APP_STOP_COMMAND'));
  if (stop instanceof Error) problems.push(`APP_STOP_COMMAND: ${stop.message}`);
  const start = parseCommandSetting(str('APP_START_COMMAND'));
  if (start instanceof Error) problems.push(`APP_START_COMMAND: ${start.message}`);
  const monitoring = readMonitoringSettings(v, problems);

  const list = (name: string): string[] => str(name).split(',').map((s) => s.trim()).filter((s) => s !== '');
  const hours = v.BACKUP_SCHEDULE_HOURS as number;
  const cron = str('BACKUP_SCHEDULE_CRON');
  const schedule: ScheduleConfig = cron !== ''
    ? { type: 'cron', pattern: cron, tz: str('BACKUP_SCHEDULE_TZ') }
    : hours === 0 ? { type: 'off' } : { type: 'every', everyMs: Math.max(1, Math.round(hours * 3_600_000)) };
  const retention = { dailyDays: v.BACKUP_RETAIN_DAILY_DAYS as number, weeklyWeeks: v.BACKUP_RETAIN_WEEKLY_WEEKS as number };
  const compression = { type: str('BACKUP_COMPRESSION') as 'none' | 'zstd', level: v.BACKUP_COMPRESSION_LEVEL as number };
  const sources: SourceConfig[] | undefined = sourcesFile !== ''
    ? readSourcesFile(sourcesFile, { schedule, retention, compression }, problems)
    : [{
        name: DEFAULT_SOURCE,
        host: undefined,
        dbPath: str('DB_PATH') === '' ? undefined : resolve(str('DB_PATH')),
        includePaths: list('BACKUP_INCLUDE_PATHS').map((p) => resolve(p)),
        exclude: list('BACKUP_EXCLUDE'),
        streams: [],
        schedule,
        retention,
        ageRecipients: list('BACKUP_AGE_RECIPIENTS'),
        compression,
      }];

  if (problems.length > 0 || sources === undefined) throw new ConfigError(problems);
  const stateDir = resolve(str('STATE_DIR'));

  const config: Config = {
    dbPath: undefined,
    masterKey: str('MASTER_KEY') === '' ? undefined : Buffer.from(str('MASTER_KEY'), 'hex'),
    previousMasterKeys: list('MASTER_KEY_PREVIOUS').map((k) => Buffer.from(k, 'hex')),
    store: endpoint !== ''
      ? {
          type: 's3',
          endpoint,
          region: str('BACKUP_S3_REGION'),
          bucket: str('BACKUP_S3_BUCKET'),
          accessKeyId: str('BACKUP_S3_ACCESS_KEY'),
          secretAccessKey: str('BACKUP_S3_SECRET_KEY'),
          prefix: str('BACKUP_S3_PREFIX'),
          forcePathStyle: v.BACKUP_S3_FORCE_PATH_STYLE as boolean,
          contentMd5: v.BACKUP_S3_CONTENT_MD5 as boolean,
          partConcurrency: v.BACKUP_S3_PART_CONCURRENCY as number,
        }
      : localDir !== '' ? { type: 'local', dir: resolve(localDir) } : undefined,
    schedule: { type: 'off' },
    retention,
    jobs: { attempts: v.BACKUP_JOB_ATTEMPTS as number, backoffMs: v.BACKUP_JOB_BACKOFF_MS as number },
    redisUrl: str('REDIS_URL') === '' ? undefined : str('REDIS_URL'),
    queuePrefix: str('QUEUE_PREFIX'),
    host: str('HOST'),
    port: v.PORT as number,
    trustProxy: trustProxy as number | string[] | undefined,
    stateDir,
    restoreRoot: str('RESTORE_ROOT') === '' ? resolve(stateDir, 'restore') : resolve(str('RESTORE_ROOT')),
    log: { level: str('LOG_LEVEL'), format: str('LOG_FORMAT') as 'json' | 'pretty' },
    includePaths: [],
    exclude: [],
    ageRecipients: [],
    compression,
    ...monitoring,
    appCommands: { stop: stop as string[] | undefined, start: start as string[] | undefined, env: commandEnvironment(env) },
    streams: [],
    sourceName: '',
    sources,
    fleetHost: str('SNAPKEEP_HOST') === '' ? hostname() : str('SNAPKEEP_HOST'),
    backupConcurrency: v.BACKUP_CONCURRENCY as number,
  };
  // The top-level Config speaks for the source commands default to (`default`, or the only one);
  // with several and none named default, it speaks for none: per-source work scopes it first.
  const primary = primarySource(sources);
  return Object.freeze(primary ? scopeToSource(config, primary) : config);
}

/** Settings that describe what one source backs up: with SNAPKEEP_CONFIG, its sources say them instead. */
const PER_SOURCE_SETTINGS = ['DB_PATH', 'BACKUP_INCLUDE_PATHS', 'BACKUP_EXCLUDE', 'BACKUP_AGE_RECIPIENTS'] as const;

/** parseCommandSetting reads APP_STOP_COMMAND or APP_START_COMMAND: unset, argv, or why it cannot be split. */
function parseCommandSetting(value: string): string[] | undefined | Error {
  if (value === '') return undefined;
  try {
    return parseCommandLine(value);
  } catch (err) {
    if (err instanceof CommandLineError) return err;
    throw err;
  }
}

// What a stop or start command sees of snapkeep's environment: enough to find programs and reach
// systemd or the user's session, never a setting (MASTER_KEY, S3 keys, REDIS_URL's password).
const COMMAND_ENV = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS)$/;

/** commandEnvironment is the environment the application's stop and start commands run with. */
function commandEnvironment(env: Record<string, string | undefined>): AppCommands['env'] {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => COMMAND_ENV.test(e[0]) && e[1] !== undefined));
}

const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * parseTrustProxy reads TRUST_PROXY: a hop count (`1`: the one balancer in front), or a list of
 * addresses, CIDR ranges and range names. `true` (believe any X-Forwarded-For) is refused: a client
 * could then name any address and escape the failed-token limit.
 */
function parseTrustProxy(value: string): number | string[] | undefined | Error {
  if (value === '') return undefined;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return hops >= 1 && hops <= 10 ? hops : new Error('a number of proxies must be 1 to 10');
  }
  const entries = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const entry of entries) {
    if (PROXY_RANGE_NAMES.has(entry)) continue;
    const [address = '', bits, ...rest] = entry.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    // A /0 range is every address: as good as trusting any X-Forwarded-For, which `true` is refused for.
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) >= 1 && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || rest.length > 0) {
      return new Error(`"${entry}" is not a number of proxies, an address, a CIDR range or one of loopback, linklocal, uniquelocal`);
    }
  }
  return entries.length > 0 ? entries : undefined;
}
