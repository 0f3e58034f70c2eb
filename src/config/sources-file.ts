import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import Joi from 'joi';
import { parseDocument } from 'yaml';
import type { RetentionPolicy, ScheduleConfig, SourceConfig } from './config.js';

/** A source's name: it becomes part of object keys, queue data and metric labels. */
export const SOURCE_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
/** The source the environment alone describes, whose objects stay where they always were. */
export const DEFAULT_SOURCE = 'default';
/** A worker's name in the fleet (SNAPKEEP_HOST, a source's `host`): it becomes part of queue names, so never a colon. */
export const FLEET_HOST = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const STREAM_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const LONE_DASH_IN_FLOW = /[[,]\s*-\s*[,\]]/;

const absolutePath = Joi.string().min(1).max(4096).custom((value: string, helpers) => (isAbsolute(value) ? value : helpers.error('path.absolute')))
  .messages({ 'path.absolute': 'must be an absolute path' });
const argv = Joi.array().items(Joi.string().min(1).max(4096)).min(1).max(256);
const timeZone = Joi.string().custom((tz: string) => {
  new Intl.DateTimeFormat('en-US', { timeZone: tz });
  return tz;
}).messages({ 'any.custom': 'must be an IANA time zone such as UTC or Europe/Berlin' });

const scheduleSchema = Joi.alternatives().try(
  Joi.object({ hours: Joi.number().greater(0).max(24 * 366).required() }),
  Joi.object({ cron: Joi.string().pattern(/^\S+(\s+\S+){4,5}$/).required(), tz: timeZone }),
  Joi.object({ off: Joi.boolean().valid(true).required() }),
).messages({ 'alternatives.match': 'must be hours: N, cron: "0 2 * * *" (with an optional tz), or off: true' });

const sourceSchema = Joi.object({
  name: Joi.string().pattern(SOURCE_NAME).required().messages({ 'string.pattern.base': 'must be 1 to 40 of a-z, 0-9 and "-", starting with a letter or digit' }),
  host: Joi.string().pattern(FLEET_HOST).messages({ 'string.pattern.base': 'must be a host name (letters, digits, ".", "_", "-")' }),
  database: absolutePath,
  include: Joi.array().items(absolutePath).max(256),
  exclude: Joi.array().items(Joi.string().min(1).max(1024)).max(1024),
  streams: Joi.array().items(Joi.object({
    name: Joi.string().pattern(STREAM_NAME).required().messages({ 'string.pattern.base': 'must be 1 to 64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit' }),
    command: argv.required(),
    restoreCommand: argv,
  })).max(64).unique('name'),
  schedule: scheduleSchema,
  retention: Joi.object({
    dailyDays: Joi.number().integer().min(0).max(3660),
    weeklyWeeks: Joi.number().integer().min(0).max(520),
  }),
  // `zstd`, `none`, or { type, level }: as BACKUP_COMPRESSION and BACKUP_COMPRESSION_LEVEL, for this source.
  compression: Joi.alternatives().try(
    Joi.string().valid('none', 'zstd'),
    Joi.object({ type: Joi.string().valid('none', 'zstd').required(), level: Joi.number().integer().min(1).max(19) }),
  ).messages({ 'alternatives.match': 'must be zstd, none, or type: zstd with a level of 1-19' }),
  encryption: Joi.object({
    ageRecipients: Joi.array().items(Joi.string().pattern(/^age1[0-9a-z]+$/).messages({ 'string.pattern.base': 'must be an age public key (age1…)' })).min(1),
  }),
}).or('database', 'include', 'streams').messages({
  'object.missing': 'declares nothing to back up: give it a database, include or streams',
});

const fileSchema = Joi.object({
  sources: Joi.array().items(sourceSchema).min(1).max(10_000).unique('name').required(),
});

/** What a source falls back on for what it does not say: the environment's schedule and retention. */
export interface SourceDefaults {
  schedule: ScheduleConfig;
  retention: RetentionPolicy;
  compression: SourceConfig['compression'];
}

/**
 * readSourcesFile reads SNAPKEEP_CONFIG: every problem at once, each naming the file, the source
 * (by name, or by position when it has none) and the key, pushed to `problems`. Returns the sources
 * when the file is valid, else undefined.
 */
export function readSourcesFile(path: string, defaults: SourceDefaults, problems: string[]): SourceConfig[] | undefined {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`SNAPKEEP_CONFIG: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  // YAML 1.2 core schema: no custom tags (nothing in the file can construct an object), aliases capped.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) problems.push(`SNAPKEEP_CONFIG: ${file}: ${e.message.split('\n')[0]}`);
    // YAML 1.2 reads a bare `-` in a [ … ] list as the start of a nested list: tar's "write to stdout" needs quotes.
    if (LONE_DASH_IN_FLOW.test(text)) problems.push(`SNAPKEEP_CONFIG: ${file}: a lone - inside [ … ] must be quoted, as in [tar, -cf, "-", .]`);
    return undefined;
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const { value, error } = fileSchema.validate(raw, { abortEarly: false, convert: false });
  if (error) {
    for (const d of error.details) problems.push(`SNAPKEEP_CONFIG: ${file}: ${describePath(raw, d.path)}: ${d.message.replace(/^"[^"]*" /, '')}`);
    return undefined;
  }
  return (value as { sources: RawSource[] }).sources.map((s) => toSourceConfig(s, defaults));
}

interface RawSource {
  name: string;
  host?: string;
  database?: string;
  include?: string[];
  exclude?: string[];
  streams?: Array<{ name: string; command: string[]; restoreCommand?: string[] }>;
  schedule?: { hours?: number; cron?: string; tz?: string; off?: true };
  retention?: { dailyDays?: number; weeklyWeeks?: number };
  encryption?: { ageRecipients?: string[] };
  compression?: 'none' | 'zstd' | { type: 'none' | 'zstd'; level?: number };
}

/** describePath names where a problem is: `source "app" streams[0].command`, or `sources[2]` for a source without a usable name. */
function describePath(raw: unknown, path: ReadonlyArray<string | number>): string {
  if (path[0] !== 'sources' || typeof path[1] !== 'number') return path.join('.') || 'the file';
  const source = (raw as { sources?: unknown[] }).sources?.[path[1]] as { name?: unknown } | undefined;
  const who = typeof source?.name === 'string' && SOURCE_NAME.test(source.name) ? `source "${source.name}"` : `sources[${path[1]}]`;
  const rest = path.slice(2).map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  return rest === '' ? who : `${who} ${rest}`;
}

function toSourceConfig(s: RawSource, defaults: SourceDefaults): SourceConfig {
  const schedule: ScheduleConfig = s.schedule === undefined ? defaults.schedule
    : s.schedule.off ? { type: 'off' }
      : s.schedule.cron !== undefined ? { type: 'cron', pattern: s.schedule.cron, tz: s.schedule.tz ?? 'UTC' }
        : { type: 'every', everyMs: Math.max(1, Math.round(s.schedule.hours! * 3_600_000)) };
  return {
    name: s.name,
    host: s.host,
    dbPath: s.database === undefined ? undefined : resolve(s.database),
    includePaths: (s.include ?? []).map((p) => resolve(p)),
    exclude: s.exclude ?? [],
    streams: (s.streams ?? []).map((st) => ({ name: st.name, command: st.command, ...(st.restoreCommand ? { restoreCommand: st.restoreCommand } : {}) })),
    schedule,
    retention: {
      dailyDays: s.retention?.dailyDays ?? defaults.retention.dailyDays,
      weeklyWeeks: s.retention?.weeklyWeeks ?? defaults.retention.weeklyWeeks,
    },
    ageRecipients: s.encryption?.ageRecipients ?? [],
    compression: s.compression === undefined ? defaults.compression
      : typeof s.compression === 'string' ? { type: s.compression, level: defaults.compression.level }
        : { type: s.compression.type, level: s.compression.level ?? defaults.compression.level },
  };
}
