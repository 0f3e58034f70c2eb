/**
 * Shared pieces of the issue-17 benchmarks (scripts/bench/link.ts, scripts/bench/compression.ts):
 * an S3 target (s3rver in its own process, through the tests' wrapper or its own CLI, or a one-node Ceph RGW), the plain-tools pipelines
 * (`VACUUM INTO` [+ `zstd -3 -T0`] + `aws s3 cp`; `aws s3 cp` [+ `zstd -d`] + `integrity_check`),
 * `snapkeep backup create` / `backup restore` with a given compression and part concurrency, and
 * a JSONL log of every sample (with the 1-minute load average at its start) summarised as medians,
 * ranges and paired ratios.
 */
import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CLI_PATH, run, runOk, startS3Child, startS3rverCli } from './processes.js';

export const MiB = 2 ** 20;

/** sizeBytes reads 256M or 1G (MiB, GiB). */
export function sizeBytes(text: string): number {
  const m = /^(\d+)([MG])$/i.exec(text);
  if (!m) throw new Error(`a size is 256M or 1G, not ${text}`);
  return Number(m[1]) * (m[2]!.toUpperCase() === 'G' ? 2 ** 30 : MiB);
}

export const makeLog = (name: string) => (line: string): void => { process.stderr.write(`[${name} ${new Date().toISOString().slice(11, 19)}] ${line}\n`); };

/** s3rver: the tests' wrapper in its own process; s3rver-cli: s3rver's own CLI, as a user starts it; ceph: Ceph RGW. */
export type ServerKind = 's3rver' | 's3rver-cli' | 'ceph';

export interface S3Target {
  kind: ServerKind;
  endpoint: string;
  port: number;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  client: S3Client;
  stop(): Promise<void>;
}

/**
 * startTarget starts an S3 server on loopback. Ceph: test/helpers/ceph-rgw.ts, used through
 * radosgw's own port (not the helper's request recorder), with a memstore big enough for 1 GiB
 * objects and deleted objects freed after 5 s (CEPH_ARGS, read by every Ceph daemon).
 */
export async function startTarget(kind: ServerKind, dataDir: string, bucket: string): Promise<S3Target> {
  let endpoint: string;
  let accessKeyId: string;
  let secretAccessKey: string;
  let stop: () => Promise<void>;
  if (kind === 's3rver' || kind === 's3rver-cli') {
    mkdirSync(dataDir, { recursive: true });
    const s3 = kind === 's3rver' ? await startS3Child(dataDir, bucket) : await startS3rverCli(dataDir, bucket);
    endpoint = s3.endpoint;
    accessKeyId = 'S3RVER';
    secretAccessKey = 'S3RVER';
    stop = () => s3.stop();
  } else {
    process.env.CEPH_ARGS = `${process.env.CEPH_ARGS ?? ''} --memstore-device-bytes=${12 * 2 ** 30} --rgw-gc-obj-min-wait=5 --rgw-gc-processor-period=5`.trim();
    const { startCephRgw } = await import('../../test/helpers/ceph-rgw.js');
    const rgw = await startCephRgw({ bucket });
    endpoint = rgw.rgwEndpoint;
    accessKeyId = rgw.accessKeyId;
    secretAccessKey = rgw.secretAccessKey;
    stop = () => rgw.close();
  }
  const client = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    kind, endpoint, port: Number(new URL(endpoint).port), bucket, accessKeyId, secretAccessKey, client,
    stop: async () => { client.destroy(); await stop(); },
  };
}

export function awsEnv(target: S3Target, workDir: string): Record<string, string> {
  const config = join(workDir, 'aws-config');
  writeFileSync(config, '[default]\n');
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    AWS_ACCESS_KEY_ID: target.accessKeyId,
    AWS_SECRET_ACCESS_KEY: target.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: config,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    ...(process.env.PYENV_ROOT ? { PYENV_ROOT: process.env.PYENV_ROOT } : {}),
    ...(process.env.PYENV_VERSION ? { PYENV_VERSION: process.env.PYENV_VERSION } : {}),
  };
}

export interface SnapkeepOptions { dbPath: string; stateDir: string; prefix: string; compression: 'none' | 'zstd'; concurrency: number; masterKey: string }

export function snapkeepEnv(target: S3Target, o: SnapkeepOptions): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    MASTER_KEY: o.masterKey,
    DB_PATH: o.dbPath,
    STATE_DIR: o.stateDir,
    BACKUP_S3_ENDPOINT: target.endpoint,
    BACKUP_S3_BUCKET: target.bucket,
    BACKUP_S3_ACCESS_KEY: target.accessKeyId,
    BACKUP_S3_SECRET_KEY: target.secretAccessKey,
    BACKUP_S3_PREFIX: o.prefix,
    BACKUP_S3_PART_CONCURRENCY: String(o.concurrency),
    BACKUP_COMPRESSION: o.compression,
    BACKUP_COMPRESSION_LEVEL: '3',
    BACKUP_SCHEDULE_HOURS: '0',
    LOG_LEVEL: 'warn',
  };
}

export interface Timed { wallMs: number; peakRss?: number; objectBytes?: number; parts?: Record<string, number> }

const sync = (): Promise<unknown> => runOk('sync', []);

let cliPath = CLI_PATH;
/**
 * useCli runs another build of the CLI (--cli): e.g. a copy of dist/ with one change, to measure a
 * fix before it is made in src/ (the copy needs a package.json and a node_modules link beside dist/).
 */
export function useCli(path: string | undefined): string {
  if (path) cliPath = path;
  return cliPath;
}

export async function objectBytes(target: S3Target, key: string): Promise<number> {
  const head = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key }));
  return head.ContentLength ?? 0;
}

export async function deleteKey(target: S3Target, key: string): Promise<void> {
  await target.client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key }));
}

/** awsUpload: `aws s3 cp FILE s3://bucket/key` (8 MiB parts, 10 in flight: the CLI's defaults). */
export async function awsUpload(target: S3Target, env: Record<string, string>, file: string, key: string): Promise<Timed> {
  await sync();
  const r = await runOk('aws', ['s3', 'cp', '--only-show-errors', '--endpoint-url', target.endpoint, file, `s3://${target.bucket}/${key}`], { env });
  return { wallMs: r.wallMs };
}

export async function awsDownload(target: S3Target, env: Record<string, string>, key: string, file: string): Promise<Timed> {
  rmSync(file, { force: true });
  await sync();
  const r = await runOk('aws', ['s3', 'cp', '--only-show-errors', '--endpoint-url', target.endpoint, `s3://${target.bucket}/${key}`, file], { env });
  return { wallMs: r.wallMs };
}

/** plainBackup: `sqlite3 db "VACUUM INTO"` [+ `zstd -3 -T0`] + `aws s3 cp`, the files removed after (timed). */
export async function plainBackup(target: S3Target, env: Record<string, string>, dbPath: string, scratch: string, key: string, zstd: boolean): Promise<Timed> {
  const snap = `${scratch}.snap.db`;
  const zst = `${snap}.zst`;
  rmSync(snap, { force: true });
  rmSync(zst, { force: true });
  await sync();
  const vacuum = await runOk('sqlite3', [dbPath, `VACUUM INTO '${snap}'`]);
  let compressMs = 0;
  if (zstd) compressMs = (await runOk('zstd', ['-3', '-T0', '-q', '-f', snap, '-o', zst])).wallMs;
  const upload = await runOk('aws', ['s3', 'cp', '--only-show-errors', '--endpoint-url', target.endpoint, zstd ? zst : snap, `s3://${target.bucket}/${key}`], { env });
  const started = performance.now();
  rmSync(snap, { force: true });
  rmSync(zst, { force: true });
  const rmMs = performance.now() - started;
  return {
    wallMs: vacuum.wallMs + compressMs + upload.wallMs + rmMs,
    objectBytes: await objectBytes(target, key),
    parts: { vacuum: vacuum.wallMs, zstd: compressMs, upload: upload.wallMs },
  };
}

/** plainRestore: `aws s3 cp` [+ `zstd -d`] + `sqlite3 x 'PRAGMA integrity_check'`. */
export async function plainRestore(target: S3Target, env: Record<string, string>, key: string, scratch: string, zstd: boolean): Promise<Timed> {
  const db = `${scratch}.restored.db`;
  const zst = `${db}.zst`;
  rmSync(db, { force: true });
  rmSync(zst, { force: true });
  await sync();
  const download = await runOk('aws', ['s3', 'cp', '--only-show-errors', '--endpoint-url', target.endpoint, `s3://${target.bucket}/${key}`, zstd ? zst : db], { env });
  let decompressMs = 0;
  if (zstd) {
    decompressMs = (await runOk('zstd', ['-d', '-q', '-f', zst, '-o', db])).wallMs;
    rmSync(zst, { force: true });
  }
  const check = await runOk('sqlite3', [db, 'PRAGMA integrity_check']);
  if (check.stdout.trim() !== 'ok') throw new Error(`integrity_check said ${check.stdout.slice(0, 300)}`);
  rmSync(db, { force: true });
  return { wallMs: download.wallMs + decompressMs + check.wallMs, parts: { download: download.wallMs, zstd: decompressMs, check: check.wallMs } };
}

/** snapkeepCreate: `node dist/cli/snapkeep.js backup create --json` under /usr/bin/time -v. */
export async function snapkeepCreate(target: S3Target, env: Record<string, string>, cwd: string): Promise<Timed & { backupId: string; key: string }> {
  await sync();
  const r = await run(process.execPath, [cliPath, 'backup', 'create', '--json'], { env, cwd, measureRss: true });
  if (r.code !== 0) throw new Error(`backup create failed: ${r.stderr.slice(-3000)}`);
  const out = JSON.parse(r.stdout) as { backupId: string; key: string };
  return { wallMs: r.wallMs, ...(r.peakRss ? { peakRss: r.peakRss } : {}), backupId: out.backupId, key: out.key, objectBytes: await objectBytes(target, out.key) };
}

/** snapkeepRestore: `backup restore --id ID --json` (download, decrypt, decompress, verify, integrity_check), the file removed after (untimed). */
export async function snapkeepRestore(env: Record<string, string>, cwd: string, backupId: string): Promise<Timed> {
  await sync();
  // LOG_LEVEL=info: the one log line that splits download from checks (a handful of lines in all).
  const r = await run(process.execPath, [cliPath, 'backup', 'restore', '--id', backupId, '--json'], { env: { ...env, LOG_LEVEL: 'info' }, cwd, measureRss: true });
  if (r.code !== 0) throw new Error(`backup restore failed: ${r.stderr.slice(-3000)}`);
  const out = JSON.parse(r.stdout) as { path: string };
  rmSync(out.path, { force: true });
  const downloadMs = restoreDownloadMs(r.stderr);
  return { wallMs: r.wallMs, ...(r.peakRss ? { peakRss: r.peakRss } : {}), ...(downloadMs === undefined ? {} : { parts: { download: downloadMs } }) };
}

/**
 * restoreDownloadMs reads, from a restore's log, how long it took from the start of the restore to
 * the last byte downloaded and decrypted (the rest of the wall time is process start and the checks).
 */
function restoreDownloadMs(log: string): number | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes('restore downloaded and decrypted')) continue;
    const m = /"downloadMs":(\d+)/.exec(line);
    if (m) return Number(m[1]);
  }
  return undefined;
}

// ---------------------------------------------------------------- samples

export interface Sample extends Timed { group: string; op: string; round: number; load1: number; at: string }

export class SampleLog {
  readonly samples: Sample[] = [];
  constructor(readonly file: string) { writeFileSync(file, ''); }

  /** time runs one measurement, noting the 1-minute load average at its start, and logs it. */
  async time<T extends Timed>(group: string, op: string, round: number, fn: () => Promise<T>): Promise<T> {
    const load1 = loadavg()[0]!;
    const result = await fn();
    const sample: Sample = { group, op, round, load1, at: new Date().toISOString(), wallMs: result.wallMs, ...(result.peakRss ? { peakRss: result.peakRss } : {}), ...(result.objectBytes ? { objectBytes: result.objectBytes } : {}), ...(result.parts ? { parts: result.parts } : {}) };
    this.samples.push(sample);
    appendFileSync(this.file, `${JSON.stringify(sample)}\n`);
    process.stderr.write(`[${sample.at.slice(11, 19)}] ${group} r${round} ${op}: ${(result.wallMs / 1000).toFixed(2)} s${result.peakRss ? `, RSS ${(result.peakRss / MiB).toFixed(0)} MiB` : ''}${result.objectBytes ? `, object ${(result.objectBytes / MiB).toFixed(1)} MiB` : ''} (load ${load1.toFixed(2)})\n`);
    return result;
  }

  static read(file: string): Sample[] {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Sample);
  }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * summaryTable is one markdown row per (group, op): median wall, every run, for each baseline the
 * median of the paired ratios (each round's wall over the same round's baseline wall) with their
 * range, peak RSS (the highest), object size, object / database and the load range at the starts.
 */
export function summaryTable(samples: Sample[], baselinesOf: (group: string, op: string) => string[], sizeOf: (group: string) => number): string[] {
  const lines = [
    '| case | operation | wall median (s) | every run (s) | × baseline: median of paired rounds (range) | peak RSS (MiB) | object (MiB) | object / database | load 1-min |',
    '| --- | --- | ---: | --- | --- | ---: | ---: | ---: | --- |',
  ];
  const keys = [...new Set(samples.map((s) => `${s.group}\u0000${s.op}`))];
  for (const k of keys) {
    const [group, op] = k.split('\u0000') as [string, string];
    const mine = samples.filter((s) => s.group === group && s.op === op);
    const ratios = baselinesOf(group, op).map((base) => {
      const rs = mine.flatMap((s) => {
        const b = samples.find((x) => x.group === group && x.op === base && x.round === s.round);
        return b ? [s.wallMs / b.wallMs] : [];
      });
      return rs.length ? `${median(rs).toFixed(2)} (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}) vs ${base}` : '';
    }).filter(Boolean);
    const rss = mine.map((s) => s.peakRss).filter((x): x is number => x !== undefined);
    const obj = mine.map((s) => s.objectBytes).filter((x): x is number => x !== undefined);
    const loads = mine.map((s) => s.load1);
    lines.push(`| ${group} | ${op} | ${(median(mine.map((s) => s.wallMs)) / 1000).toFixed(2)} | ${mine.map((s) => (s.wallMs / 1000).toFixed(2)).join(', ')} | ${ratios.join('; ') || '–'} | ${rss.length ? (Math.max(...rss) / MiB).toFixed(0) : '–'} | ${obj.length ? (median(obj) / MiB).toFixed(1) : '–'} | ${obj.length ? (median(obj) / sizeOf(group)).toFixed(3) : '–'} | ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} |`);
  }
  return lines;
}

/** rotate returns xs rotated left by n: each round starts the interleaved operations at a different one. */
export const rotate = <T>(xs: T[], n: number): T[] => xs.map((_, i) => xs[(i + n) % xs.length]!);

export const fileBytes = (path: string): number => statSync(path).size;
