/**
 * The snapkeep benchmark (`npm run bench`): on the same databases, in one run, it times
 *
 *   - the plain-tools backup: `sqlite3 db "VACUUM INTO 'x'"` + `aws s3 cp x s3://…`
 *   - `snapkeep backup create` (in-process: snapshot, CRBU encryption, multipart upload)
 *   - the plain-tools restore: `aws s3 cp s3://… x` + `sqlite3 x 'PRAGMA integrity_check'`
 *   - `snapkeep backup restore` (download, decrypt, verify, integrity_check, rename)
 *   - a backup through the API and a worker (`snapkeep serve`, POST /api/backups, polled to completed)
 *
 * for each database size, median of --runs runs, plus peak RSS of every snapkeep process; then the
 * API and queue under load (wrk against GET /api/jobs/:id and GET /api/health, and POST
 * /api/backups → active over 200 jobs). It starts its own redis-server and S3 server (s3rver, in a
 * child process), prints a table and writes it to docs/benchmarks.md with the machine's description.
 *
 *   npm run bench                                   # 256M,1G,4G, 3 runs: 20-40 minutes on 2 cores
 *   npm run bench -- --sizes 64M --runs 1 --out /tmp/bench.md      # a quick look
 *
 * Options: --sizes LIST (K/M/G = KiB/MiB/GiB), --runs N, --dir DIR (work directory, default
 * $TMPDIR/snapkeep-bench; needs about 4 × the largest size free), --out FILE, --compression none|zstd
 * (snapkeep's BACKUP_COMPRESSION; default none), --no-load,
 * --load-only, --enqueue-count N, --wrk-duration S, --clean (remove the generated databases at the
 * end; by default they are kept and reused by the next run), --no-build, --note TEXT (added to the
 * report, e.g. that the machine was shared), --profile DIR (`--cpu-prof` for every snapkeep process,
 * and for the S3 server under DIR/s3-server; summarise one with scripts/bench/profile-top.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { freePort, startRedis, type TestRedis } from '../test/helpers/redis-server.js';
import { ensureDatabase, makeTinyDatabase, sqliteVersion, type BenchDatabase } from './bench/databases.js';
import { measureEnqueueToActive, probeWhile, runWrk, waitForJob, type EnqueueLatency, type WrkResult } from './bench/load.js';
import { CLI_PATH, REPO_ROOT, procStatusBytes, resetPeakRss, run, runOk, sleep, startS3Child, startServe, type RunResult, type S3Child } from './bench/processes.js';

const MiB = 2 ** 20;

// ---------------------------------------------------------------- options

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256M,1G,4G' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: join(tmpdir(), 'snapkeep-bench') },
    out: { type: 'string', default: 'docs/benchmarks.md' },
    compression: { type: 'string', default: 'none' },
    'no-load': { type: 'boolean', default: false },
    'load-only': { type: 'boolean', default: false },
    'enqueue-count': { type: 'string', default: '200' },
    'wrk-duration': { type: 'string', default: '10' },
    clean: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    note: { type: 'string', multiple: true, default: [] },
    profile: { type: 'string' },
  },
  strict: true,
});

interface Size { label: string; bytes: number }

function parseSize(text: string): Size {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG])(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new Error(`--sizes: not a size: ${text} (e.g. 256M, 1G)`);
  const unit = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2]!.toUpperCase() as 'K' | 'M' | 'G'];
  return { label: `${m[1]}${m[2]!.toUpperCase()}`, bytes: Math.round(Number(m[1]) * unit) };
}

const sizes = opts['load-only'] ? [] : opts.sizes.split(',').filter(Boolean).map(parseSize);
const runs = Number(opts.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs: a positive integer');
const enqueueCount = Number(opts['enqueue-count']);
const wrkDuration = Number(opts['wrk-duration']);
const workDir = resolve(opts.dir);
const outFile = isAbsolute(opts.out) ? opts.out : join(REPO_ROOT, opts.out);
const profileDir = opts.profile ? resolve(opts.profile) : undefined;
const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
const shellQuote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
const commandLine = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).map(shellQuote).join(' ')}` : ''}`;

const log = (line: string): void => { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`); };

// ---------------------------------------------------------------- measurements

type OpName = 'plain-backup' | 'backup' | 'api-backup' | 'plain-restore' | 'restore';
const OPS: Array<{ op: OpName; title: string; baseline: OpName | null; snapkeep: boolean }> = [
  { op: 'plain-backup', title: 'plain backup: `sqlite3 VACUUM INTO` + `aws s3 cp`', baseline: null, snapkeep: false },
  { op: 'backup', title: '`snapkeep backup create`', baseline: 'plain-backup', snapkeep: true },
  { op: 'api-backup', title: 'API + worker backup (`serve`)', baseline: 'plain-backup', snapkeep: true },
  { op: 'plain-restore', title: 'plain restore: `aws s3 cp` + `PRAGMA integrity_check`', baseline: null, snapkeep: false },
  { op: 'restore', title: '`snapkeep backup restore`', baseline: 'plain-restore', snapkeep: true },
];

interface Sample { wallMs: number; peakRss?: number; parts?: Record<string, number> }

interface SizeResult {
  size: Size;
  db: BenchDatabase;
  samples: Record<OpName, Sample[]>;
  /** GET /api/health and GET /api/openapi.json latencies (ms) seen during one more API backup, and its wall time. */
  responsiveness: { health: number[]; openapi: number[]; wallMs?: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
/** percentile by nearest rank. */
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

async function syncDisks(): Promise<void> {
  // Dirty pages of the previous step must not be written back on the next one's time.
  await runOk('sync', []);
}

interface Bench {
  redis: TestRedis;
  s3: S3Child;
  s3Client: S3Client;
  masterKey: string;
  awsEnv: Record<string, string>;
}

function snapkeepEnv(bench: Bench, extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    MASTER_KEY: bench.masterKey,
    REDIS_URL: bench.redis.url,
    BACKUP_S3_ENDPOINT: bench.s3.endpoint,
    BACKUP_S3_BUCKET: bench.s3.bucket,
    BACKUP_S3_ACCESS_KEY: 'S3RVER',
    BACKUP_S3_SECRET_KEY: 'S3RVER',
    BACKUP_SCHEDULE_HOURS: '0',
    BACKUP_JOB_ATTEMPTS: '1',
    ...extra,
  };
}

const cli = (args: string[], env: Record<string, string>, cwd: string, measureRss = false): Promise<RunResult> =>
  run(process.execPath, [...nodeArgs, CLI_PATH, ...args], { env, cwd, measureRss });

async function deletePrefix(bench: Bench, prefix: string): Promise<void> {
  const listed = await bench.s3Client.send(new ListObjectsV2Command({ Bucket: bench.s3.bucket, Prefix: prefix }));
  for (const item of listed.Contents ?? []) {
    await bench.s3Client.send(new DeleteObjectCommand({ Bucket: bench.s3.bucket, Key: item.Key! }));
  }
}

async function createToken(env: Record<string, string>, cwd: string): Promise<string> {
  const created = await cli(['token', 'create', '--name', `bench-${randomBytes(3).toString('hex')}`, '--role', 'superadmin'], env, cwd);
  if (created.code !== 0) throw new Error(`token create failed: ${created.stderr.slice(-3000)}`);
  return created.stdout.trim();
}

async function measureSize(bench: Bench, size: Size): Promise<SizeResult> {
  const dbPath = join(workDir, `bench-${size.label}.db`);
  const db = ensureDatabase(dbPath, size.bytes, log);
  log(`${size.label}: ${db.reused ? 'reusing' : 'made'} ${dbPath} (${(db.size / MiB).toFixed(0)} MiB)`);
  const stateDir = join(workDir, `state-${size.label}`);
  rmSync(stateDir, { recursive: true, force: true });
  const port = await freePort();
  const prefix = `snapkeep-${size.label}/`;
  const plainPrefix = `plain-${size.label}/`;
  const env = snapkeepEnv(bench, {
    DB_PATH: dbPath, STATE_DIR: stateDir, PORT: String(port), BACKUP_S3_PREFIX: prefix,
    QUEUE_PREFIX: `bench${size.label}${randomBytes(3).toString('hex')}`, BACKUP_COMPRESSION: opts.compression,
  });
  const token = await createToken(env, workDir);
  const serve = await startServe(env, workDir, nodeArgs);
  const samples: SizeResult['samples'] = { 'plain-backup': [], backup: [], 'api-backup': [], 'plain-restore': [], restore: [] };
  const responsiveness: SizeResult['responsiveness'] = { health: [], openapi: [] };
  /** apiBackup sends POST /api/backups and polls the job (every 25 ms) until it is done; with probes, the API is asked meanwhile. */
  const apiBackup = async (probe: boolean): Promise<{ wallMs: number; peakRss: number | undefined }> => {
    resetPeakRss(serve.pid);
    const probes = probe ? [probeWhile(`${serve.baseUrl}/api/health`, 50), probeWhile(`${serve.baseUrl}/api/openapi.json`, 50)] : [];
    const started = performance.now();
    const res = await fetch(`${serve.baseUrl}/api/backups`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    if (res.status !== 202) throw new Error(`POST /api/backups answered ${res.status}: ${await res.text()}`);
    const accepted = (await res.json()) as { statusUrl: string };
    const job = await waitForJob(serve.baseUrl, accepted.statusUrl, token, 3_600_000, 25);
    const wallMs = performance.now() - started;
    const [health, openapi] = await Promise.all(probes.map((p) => p.stop()));
    if (probe) {
      responsiveness.health.push(...health!);
      responsiveness.openapi.push(...openapi!);
    }
    if (job.state !== 'completed') throw new Error(`API backup ${job.state}: ${job.failedReason}\n${serve.logs().slice(-3000)}`);
    return { wallMs, peakRss: procStatusBytes(serve.pid, 'VmHWM') };
  };
  const plainSnapshot = join(workDir, `plain-snapshot-${size.label}.db`);
  const plainRestored = join(workDir, `plain-restore-${size.label}.db`);
  try {
    for (let r = 1; r <= runs; r++) {
      log(`${size.label} run ${r}/${runs}`);
      // Plain backup: VACUUM INTO a file, upload it with the AWS CLI, remove the file.
      const plainKey = `${plainPrefix}run${r}.db`;
      rmSync(plainSnapshot, { force: true });
      await syncDisks();
      const vacuum = await runOk('sqlite3', [dbPath, `VACUUM INTO '${plainSnapshot}'`], { cwd: workDir });
      const upload = await runOk('aws', ['s3', 'cp', '--only-show-errors', '--endpoint-url', bench.s3.endpoint, plainSnapshot, `s3://${bench.s3.bucket}/${plainKey}`], { env: bench.awsEnv, cwd: workDir });
      const removeStarted = performance.now();
      rmSync(plainSnapshot, { force: true });
      const removeMs = performance.now() - removeStarted;
      samples['plain-backup'].push({ wallMs: vacuum.wallMs + upload.wallMs + removeMs, parts: { vacuum: vacuum.wallMs, upload: upload.wallMs } });
      log(`  plain backup ${fmtS(vacuum.wallMs + upload.wallMs + removeMs)} s (vacuum ${fmtS(vacuum.wallMs)}, upload ${fmtS(upload.wallMs)})`);

      // snapkeep backup create, in-process.
      await syncDisks();
      const created = await cli(['backup', 'create', '--json'], env, workDir, true);
      if (created.code !== 0) throw new Error(`snapkeep backup create failed: ${created.stderr.slice(-3000)}`);
      const backupResult = JSON.parse(created.stdout) as { backupId: string; key: string; size: number };
      samples.backup.push({ wallMs: created.wallMs, ...(created.peakRss ? { peakRss: created.peakRss } : {}) });
      log(`  snapkeep backup create ${fmtS(created.wallMs)} s, peak RSS ${fmtMiB(created.peakRss)} MiB`);

      // Plain restore: download, integrity_check.
      rmSync(plainRestored, { force: true });
      await syncDisks();
      const download = await runOk('aws', ['s3', 'cp', '--only-show-errors', '--endpoint-url', bench.s3.endpoint, `s3://${bench.s3.bucket}/${plainKey}`, plainRestored], { env: bench.awsEnv, cwd: workDir });
      const check = await runOk('sqlite3', [plainRestored, 'PRAGMA integrity_check'], { cwd: workDir });
      if (check.stdout.trim() !== 'ok') throw new Error(`plain restore: integrity_check said ${check.stdout.slice(0, 500)}`);
      samples['plain-restore'].push({ wallMs: download.wallMs + check.wallMs, parts: { download: download.wallMs, check: check.wallMs } });
      log(`  plain restore ${fmtS(download.wallMs + check.wallMs)} s (download ${fmtS(download.wallMs)}, check ${fmtS(check.wallMs)})`);
      rmSync(plainRestored, { force: true });

      // snapkeep backup restore of the backup just made.
      await syncDisks();
      const restored = await cli(['backup', 'restore', '--id', backupResult.backupId, '--json'], env, workDir, true);
      if (restored.code !== 0) throw new Error(`snapkeep backup restore failed: ${restored.stderr.slice(-3000)}`);
      const restoreResult = JSON.parse(restored.stdout) as { path: string };
      rmSync(restoreResult.path, { force: true });
      samples.restore.push({ wallMs: restored.wallMs, ...(restored.peakRss ? { peakRss: restored.peakRss } : {}) });
      log(`  snapkeep backup restore ${fmtS(restored.wallMs)} s, peak RSS ${fmtMiB(restored.peakRss)} MiB`);

      // A backup through the API and the worker of `snapkeep serve`, with nothing else asking it.
      await syncDisks();
      const api = await apiBackup(false);
      samples['api-backup'].push({ wallMs: api.wallMs, ...(api.peakRss ? { peakRss: api.peakRss } : {}) });
      log(`  API backup ${fmtS(api.wallMs)} s, serve VmHWM ${fmtMiB(api.peakRss)} MiB`);

      await deletePrefix(bench, prefix);
      await deletePrefix(bench, plainPrefix);
    }
    // One more API backup, not timed with the others: is the API answering while it runs? Its
    // probes (one GET /api/health, which also asks Redis and the S3 server, and one GET
    // /api/openapi.json, this process's event loop alone, each every 50 ms) would otherwise slow the
    // timed backups' S3 server and process.
    await syncDisks();
    const probed = await apiBackup(true);
    responsiveness.wallMs = probed.wallMs;
    log(`  API backup with probes ${fmtS(probed.wallMs)} s: /api/health p99 ${fmtMs(percentile(responsiveness.health, 99))} ms over ${responsiveness.health.length} requests`);
    await deletePrefix(bench, prefix);
  } finally {
    await serve.stop();
    rmSync(plainSnapshot, { force: true });
    rmSync(plainRestored, { force: true });
    rmSync(stateDir, { recursive: true, force: true });
    for (const name of readdirSync(workDir)) if (name.startsWith(`bench-${size.label}.db.restore.`)) rmSync(join(workDir, name), { force: true });
  }
  return { size, db, samples, responsiveness };
}

// ---------------------------------------------------------------- load

interface LoadResult {
  jobs: WrkResult;
  /** The same endpoint with fewer connections: latency without 32 requests queued behind each other. */
  jobsFewer: WrkResult;
  health: WrkResult;
  enqueue: EnqueueLatency;
  servePeakRss: number | undefined;
}

async function measureLoad(bench: Bench): Promise<LoadResult> {
  const dbPath = join(workDir, 'tiny.db');
  makeTinyDatabase(dbPath);
  const stateDir = join(workDir, 'state-load');
  rmSync(stateDir, { recursive: true, force: true });
  const port = await freePort();
  const env = snapkeepEnv(bench, {
    DB_PATH: dbPath, STATE_DIR: stateDir, PORT: String(port), BACKUP_S3_PREFIX: 'load/',
    QUEUE_PREFIX: `benchload${randomBytes(3).toString('hex')}`,
    // Logs of 200 jobs and of wrk's requests would be the serve process's own load: warnings only.
    LOG_LEVEL: 'warn',
  });
  const token = await createToken(env, workDir);
  const serve = await startServe(env, workDir, nodeArgs);
  try {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const res = await fetch(`${serve.baseUrl}/api/backups`, { method: 'POST', headers, body: '{}' });
    const accepted = (await res.json()) as { jobId: string; statusUrl: string };
    await waitForJob(serve.baseUrl, accepted.statusUrl, token, 60_000, 20);
    const jobUrl = `${serve.baseUrl}${accepted.statusUrl}`;
    const wrkOptions = { threads: 2, connections: 32, durationS: wrkDuration };
    log(`load: wrk warm-up (3 s), then GET /api/jobs/:id and GET /api/health for ${wrkDuration} s each`);
    await runWrk('warm-up', jobUrl, token, { ...wrkOptions, durationS: 3 }, workDir);
    const jobs = await runWrk('GET /api/jobs/:id, 32 connections', jobUrl, token, wrkOptions, workDir);
    const jobsFewer = await runWrk('GET /api/jobs/:id, 8 connections', jobUrl, token, { ...wrkOptions, connections: 8 }, workDir);
    const health = await runWrk('GET /api/health, 32 connections', `${serve.baseUrl}/api/health`, null, wrkOptions, workDir);
    log(`load: ${enqueueCount} backups, POST → active`);
    const enqueue = await measureEnqueueToActive(serve.baseUrl, token, enqueueCount);
    const servePeakRss = procStatusBytes(serve.pid, 'VmHWM');
    return { jobs, jobsFewer, health, enqueue, servePeakRss };
  } finally {
    await serve.stop();
    await deletePrefix(bench, 'load/');
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(dbPath, { force: true });
  }
}

// ---------------------------------------------------------------- report

const fmtS = (ms: number): string => (ms / 1000).toFixed(2);
const fmtMiB = (bytes: number | undefined): string => (bytes === undefined ? '–' : (bytes / MiB).toFixed(0));
const fmtMs = (ms: number): string => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

/** describeDf turns `df --output=source,fstype,size,avail`'s line into words. */
function describeDf(line: string): string {
  const [source = '?', fstype = '?', size = '?', avail = '?'] = line.trim().split(/\s+/);
  return `${source} (${fstype}), ${size} in all, ${avail} free at the start`;
}

async function machineDescription(): Promise<string[]> {
  const text = async (cmd: string, args: string[]): Promise<string> => {
    const r = await run(cmd, args).catch(() => null);
    return r && r.code === 0 ? `${r.stdout}${r.stderr}`.trim() : 'unknown';
  };
  const df = (await text('df', ['-h', '--output=source,fstype,size,avail', workDir])).split('\n').slice(-1)[0] ?? '';
  const lsblk = (await text('lsblk', ['-d', '-n', '-o', 'NAME,SIZE,ROTA,MODEL'])).split('\n').filter((l) => !l.startsWith('zram')).join('; ');
  return [
    `- Date: ${new Date().toISOString()}`,
    `- CPU: ${cpus()[0]?.model ?? 'unknown'}, nproc ${availableParallelism()}`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Disk (work directory \`${workDir}\`): ${describeDf(df)}; block devices: ${lsblk.replace(/\s+/g, ' ')} (NAME SIZE ROTA MODEL; ROTA 0 = not rotational)`,
    `- Kernel: Linux ${release()}`,
    `- Node ${process.version}; SQLite ${sqliteVersion()} (better-sqlite3, used by snapkeep); sqlite3 CLI ${(await text('sqlite3', ['--version'])).split(' ')[0]}`,
    `- ${(await text('aws', ['--version'])).split(' ').slice(0, 2).join(' ')}; ${(await text('redis-server', ['--version'])).split(' ').slice(0, 3).join(' ')}; S3 server: s3rver 3.7 (with the tests' signature-checking shims) in its own Node process`,
  ];
}

function buildReport(results: SizeResult[], load: LoadResult | undefined, machine: string[], loadSamples: number[], startedAt: Date, endedAt: Date): string {
  const lines: string[] = [];
  lines.push('# Benchmarks', '');
  lines.push(`Written by \`scripts/bench.ts\`. Command: \`${commandLine}\``, '');
  lines.push(`snapkeep's BACKUP_COMPRESSION: ${opts.compression} (the plain tools never compress here; scripts/bench/compression.ts compares zstd with them).`, '');
  lines.push(`Run from ${startedAt.toISOString()} to ${endedAt.toISOString()} (${((endedAt.getTime() - startedAt.getTime()) / 60000).toFixed(1)} min).`, '');
  lines.push('## Machine', '', ...machine);
  if (loadSamples.length > 0) {
    lines.push(`- 1-minute load average during the run: min ${Math.min(...loadSamples).toFixed(2)}, median ${median(loadSamples).toFixed(2)}, max ${Math.max(...loadSamples).toFixed(2)} (sampled every 10 s; this benchmark alone keeps about 1.5–2 busy)`);
  }
  for (const note of opts.note) lines.push(`- Note: ${note}`);
  lines.push('');

  if (results.length > 0) {
    lines.push(`## Backup and restore (median of ${runs} run${runs > 1 ? 's' : ''})`, '');
    lines.push('| database | operation | wall (s) | MiB/s | × plain | peak RSS (MiB) | every run (s) |');
    lines.push('| --- | --- | ---: | ---: | ---: | ---: | --- |');
    for (const result of results) {
      const sizeMiB = result.db.size / MiB;
      for (const { op, title, baseline } of OPS) {
        const walls = result.samples[op].map((s) => s.wallMs);
        if (walls.length === 0) continue;
        const wall = median(walls);
        const ratio = baseline ? (wall / median(result.samples[baseline].map((s) => s.wallMs))).toFixed(2) : '1.00';
        const rss = result.samples[op].map((s) => s.peakRss).filter((x): x is number => x !== undefined);
        lines.push(`| ${result.size.label} (${sizeMiB.toFixed(0)} MiB) | ${title} | ${fmtS(wall)} | ${(sizeMiB / (wall / 1000)).toFixed(0)} | ${ratio} | ${rss.length ? fmtMiB(Math.max(...rss)) : '–'} | ${walls.map(fmtS).join(', ')} |`);
      }
    }
    lines.push('');
    lines.push('The API during a backup (`serve`; one more API backup per size after the timed ones, with one request at a time every 50 ms to each endpoint while the job ran; not in the table above, as the probes load the S3 server and the process): ' + results.map((r) => {
      const row = (name: string, xs: number[]): string => (xs.length === 0 ? `${name} no answer` : `${name} p50 ${fmtMs(percentile(xs, 50))} / p99 ${fmtMs(percentile(xs, 99))} / max ${fmtMs(Math.max(...xs))} ms (${xs.length} requests)`);
      return `${r.size.label} (that backup ${r.responsiveness.wallMs !== undefined ? fmtS(r.responsiveness.wallMs) : '–'} s): ${row('GET /api/health', r.responsiveness.health)}, ${row('GET /api/openapi.json', r.responsiveness.openapi)}`;
    }).join('; ') + '.', '');
    lines.push('Plain-tools steps (median s): ' + results.map((r) => {
      const part = (op: OpName, name: string): string => fmtS(median(r.samples[op].map((s) => s.parts?.[name] ?? 0)));
      return `${r.size.label}: VACUUM INTO ${part('plain-backup', 'vacuum')} + upload ${part('plain-backup', 'upload')}; download ${part('plain-restore', 'download')} + integrity_check ${part('plain-restore', 'check')}`;
    }).join('; ') + '.', '');
  }

  if (load) {
    lines.push('## API and queue under load', '');
    lines.push('| endpoint | req/s | p50 (ms) | p75 (ms) | p90 (ms) | p99 (ms) | requests | non-2xx |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const w of [load.jobs, load.jobsFewer, load.health]) {
      const p = (k: string): string => (w.latencyMs[k] === undefined ? '–' : fmtMs(w.latencyMs[k]!));
      lines.push(`| ${w.label} | ${w.requestsPerSecond.toFixed(0)} | ${p('50')} | ${p('75')} | ${p('90')} | ${p('99')} | ${w.requests} | ${w.non2xx} |`);
    }
    lines.push('', `wrk: \`${load.jobs.command}\` (the Lua script only sets \`Authorization: Bearer …\`; \`-c8\` for the 8-connection row; \`/api/health\` without it), after a 3 s warm-up. wrk keeps every connection busy, so at 32 connections each request waits behind the others: latency ≈ 32 / throughput. \`/api/health\` pings Redis and asks the S3 server for the bucket (HeadBucket) on every request.${load.jobs.socketErrors ? ` ${load.jobs.socketErrors}.` : ''}`, '');
    const e = load.enqueue;
    const row = (name: string, xs: number[]): string => `| ${name} | ${fmtMs(percentile(xs, 50))} | ${fmtMs(percentile(xs, 90))} | ${fmtMs(percentile(xs, 99))} | ${fmtMs(Math.max(...xs))} |`;
    lines.push(`Enqueue → active over ${e.count} backup jobs (ms):`, '');
    lines.push('| interval | p50 | p90 | p99 | max |', '| --- | ---: | ---: | ---: | ---: |');
    lines.push(row('POST /api/backups sent → job active', e.postToActiveMs));
    lines.push(row('job added (Queue.add) → job active', e.addToActiveMs));
    lines.push(row('POST /api/backups round trip', e.postRoundTripMs));
    lines.push(row('whole job, added → completed (tiny database)', e.jobMs));
    lines.push('', 'Method: the POSTs are sequential, each sent 20 ms after the previous job completed, so each creates a new job (a POST while a '
      + 'backup waits or runs would join it: `deduplicated: true`) and finds the worker idle, blocked on Redis, as a real request does. '
      + `"Active" is the job's \`startedAt\` (BullMQ's processedOn, stamped by the worker when it takes the job), "sent" the client's clock just before the POST (same host, same clock). ${e.deduplicated} of ${e.count} POSTs were deduplicated. `
      + `The database is a tiny one (200 rows) so the ${e.count} jobs take seconds, not hours. Peak RSS of that serve process: ${fmtMiB(load.servePeakRss)} MiB.`, '');
  }

  lines.push('## Targets (issue 6)', '');
  lines.push('| target | measured | met |', '| --- | --- | --- |');
  for (const t of targets(results, load)) lines.push(`| ${t.target} | ${t.measured} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} |`);
  lines.push('');

  lines.push('## How it measures', '');
  lines.push(
    '- Each database is generated once in the work directory (random payloads of 500–3,499 bytes, a random text key with an index, 4 KiB pages) and reused by later runs; every operation of a size works on the same file.',
    '- Each run does, in this order: plain backup, `snapkeep backup create`, plain restore (of the plain backup), `snapkeep backup restore` (of the backup just made), API backup; then it deletes the objects. `sync` runs before each operation (untimed) so one operation\'s dirty pages are not written back on the next one\'s time.',
    '- Wall time is from spawning the command to its exit (the plain pipelines: the sum of their steps). The API backup is from sending POST /api/backups to the poll (every 25 ms) that sees `completed`.',
    '- MiB/s is the database size over the wall time. "× plain" is the median wall over the median wall of the plain pipeline of the same direction and size.',
    '- Peak RSS of CLI runs is "Maximum resident set size" of `/usr/bin/time -v`; of the serve process, VmHWM from /proc/PID/status read after each API backup, reset before it (`echo 5 > /proc/PID/clear_refs`), so it is that backup\'s peak including the idle API.',
    '- Redis (`redis-server`, no persistence) and the S3 server (s3rver in its own Node process) are started by the benchmark on free loopback ports; the AWS CLI runs with its defaults (8 MiB parts, 10 concurrent requests) and `AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED` (as snapkeep: s3rver would store the aws-chunked framing otherwise).',
    '- The S3 server shares the machine\'s two cores with the process measured: it computes an MD5 of every part and, on CompleteMultipartUpload, copies the parts into one object (another MD5 and a full write), for the plain tools and snapkeep alike.',
  );
  lines.push('');
  return lines.join('\n');
}

interface Target { target: string; measured: string; met: boolean | null }

function targets(results: SizeResult[], load: LoadResult | undefined): Target[] {
  const out: Target[] = [];
  const ratio = (r: SizeResult, op: OpName, base: OpName): number => median(r.samples[op].map((s) => s.wallMs)) / median(r.samples[base].map((s) => s.wallMs));
  if (results.length > 0) {
    for (const [op, base, name] of [['backup', 'plain-backup', 'backup create'], ['api-backup', 'plain-backup', 'API backup'], ['restore', 'plain-restore', 'restore']] as const) {
      const ratios = results.map((r) => ratio(r, op, base));
      out.push({
        target: `${name} wall ≤ 1.10 × plain at every size`,
        measured: results.map((r, i) => `${r.size.label} ${ratios[i]!.toFixed(2)}×`).join(', '),
        met: ratios.every((x) => x <= 1.10),
      });
    }
    const first = results[0]!;
    const last = results[results.length - 1]!;
    for (const op of ['backup', 'restore'] as const) {
      const peak = (r: SizeResult): number => Math.max(...r.samples[op].map((s) => s.peakRss ?? 0));
      out.push({
        target: `${op === 'backup' ? 'backup create' : 'restore'} peak RSS ≤ 150 MiB at the largest size, within 20 MiB of the smallest`,
        measured: `${last.size.label} ${fmtMiB(peak(last))} MiB, ${first.size.label} ${fmtMiB(peak(first))} MiB`,
        met: peak(last) <= 150 * MiB && Math.abs(peak(last) - peak(first)) <= 20 * MiB,
      });
    }
  }
  if (load) {
    for (const w of [load.jobs, load.jobsFewer]) {
      const p99 = w.latencyMs['99'] ?? Number.POSITIVE_INFINITY;
      out.push({
        target: `GET /api/jobs/:id ≥ 3,000 req/s, p99 ≤ 10 ms (${w.label.split(', ')[1]})`,
        measured: `${w.requestsPerSecond.toFixed(0)} req/s, p99 ${fmtMs(p99)} ms`,
        met: w.requestsPerSecond >= 3000 && p99 <= 10 && w.non2xx === 0,
      });
    }
    const p50 = percentile(load.enqueue.postToActiveMs, 50);
    out.push({ target: 'enqueue → active p50 ≤ 10 ms', measured: `p50 ${fmtMs(p50)} ms (POST sent → active)`, met: p50 <= 10 });
  }
  return out;
}

/**
 * keptNotes is the hand-written part of an existing report: everything from a line `## Notes` on,
 * which a new run keeps (the analysis of the figures is written by people, the figures by this script).
 */
function keptNotes(file: string): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  const at = text.search(/^## Notes$/m);
  return at < 0 ? '' : `\n${text.slice(at)}`;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  mkdirSync(workDir, { recursive: true });
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  if (!opts['no-build'] || !existsSync(CLI_PATH)) {
    log('building (npm run build)');
    await runOk('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT });
  }
  for (const tool of ['sqlite3', 'aws', 'wrk', 'redis-server', '/usr/bin/time']) {
    const found = await run('sh', ['-c', `command -v ${tool}`]);
    if (found.code !== 0) throw new Error(`${tool} is not installed (apt-get install -y sqlite3 awscli wrk redis-server time)`);
  }
  const startedAt = new Date();
  const machine = await machineDescription();
  const loadSamples: number[] = [loadavg()[0]!];
  const sampler = setInterval(() => loadSamples.push(loadavg()[0]!), 10_000);
  sampler.unref();

  const s3Dir = join(workDir, 's3');
  rmSync(s3Dir, { recursive: true, force: true });
  mkdirSync(s3Dir, { recursive: true });
  const awsDir = join(workDir, 'aws');
  mkdirSync(awsDir, { recursive: true });
  writeFileSync(join(awsDir, 'config'), '');
  const [redis, s3] = await Promise.all([startRedis(), startS3Child(s3Dir, 'snapkeep-bench', profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, 's3-server')}`] : [])]);
  log(`redis ${redis.url}, s3 ${s3.endpoint} (pid ${s3.pid})`);
  const bench: Bench = {
    redis,
    s3,
    s3Client: new S3Client({
      endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    masterKey: randomBytes(32).toString('hex'),
    awsEnv: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(awsDir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(awsDir, 'config'),
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      ...(process.env.PYENV_ROOT ? { PYENV_ROOT: process.env.PYENV_ROOT } : {}),
      ...(process.env.PYENV_VERSION ? { PYENV_VERSION: process.env.PYENV_VERSION } : {}),
    },
  };

  const results: SizeResult[] = [];
  let load: LoadResult | undefined;
  try {
    for (const size of sizes) results.push(await measureSize(bench, size));
    if (!opts['no-load']) load = await measureLoad(bench);
  } finally {
    clearInterval(sampler);
    bench.s3Client.destroy();
    await Promise.all([redis.close(), s3.stop()]);
    rmSync(s3Dir, { recursive: true, force: true });
    rmSync(join(workDir, 'wrk-auth.lua'), { force: true });
    if (opts.clean) for (const size of sizes) rmSync(join(workDir, `bench-${size.label}.db`), { force: true });
  }
  const report = buildReport(results, load, machine, loadSamples, startedAt, new Date());
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, report + keptNotes(outFile));
  process.stdout.write(`${report}\n`);
  log(`written to ${outFile}`);
}

await main().catch(async (error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  await sleep(10);
  process.exit(1);
});
