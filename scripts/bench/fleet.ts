/**
 * The fleet benchmark (issue 14): 100 sources, each a small SQLite database, on 4 `snapkeep worker`
 * processes (SNAPKEEP_HOST w1..w4) and one `snapkeep api`, all on one fresh Redis per round. Every
 * source is scheduled `{hours: 1}`, and a scheduler's first slot is due as it is upserted, so
 * starting the workers starts one scheduled round. It measures
 *
 *   - the round: from spawning the 4 workers until GET /api/sources shows a lastBackupAt for every
 *     source (the last record's own time), for each fleet shape (`pinned`: 25 sources pinned to each
 *     host, their own queues; `shared`: none pinned, one queue all 4 consume) and BACKUP_CONCURRENCY;
 *   - where it goes: each backup job's queue wait and run time (BullMQ's timestamps), CPU seconds
 *     of the workers, the API and Redis;
 *   - GET /api/sources latency: during the round (the benchmark's own poll, one request every
 *     --poll-ms; and in --busy-rounds, N connections back to back), and idle after it (1 and
 *     --idle-connections connections), against a token-checked 404 as the floor, plus the route's
 *     two Redis reads and HMAC checks timed alone;
 *   - memory after the round: each worker's and the API's RSS, Redis INFO memory.
 *
 *   npm run bench -- --fleet                               # 3 rounds × 2 shapes × BACKUP_CONCURRENCY 2, 8, + 2 busy rounds (~4 min on 2 idle cores)
 *   npm run bench -- --fleet --runs 1 --shapes pinned --out -    # a quick look, nothing written
 *
 * Options: --runs N, --shapes pinned,shared, --concurrency 2,8, --busy-rounds N (extra rounds per
 * shape, at the first concurrency, with --idle-connections GET loops busy), --sources 100, --hosts 4,
 * --rows 300, --store local|s3 (s3: s3rver in its own process), --poll-ms 50, --idle-requests 300,
 * --idle-connections 8, --dir DIR, --out FILE (its block between `<!-- fleet:begin -->` and
 * `<!-- fleet:end -->` is replaced; `-`: print only), --json FILE (every sample), --no-build, --keep,
 * --profile DIR (`--cpu-prof` for the API and every worker, DIR/ROUND/NAME.cpuprofile; summarise one
 * with scripts/bench/profile-top.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { runRound, type FleetSetup, type RoundResult } from './fleet-round.js';
import { fleetReport } from './fleet-report.js';
import { writeReportBlock } from './report-block.js';
import { makeFleetDatabases, type FleetShape } from './fleet-services.js';
import { CLI_PATH, REPO_ROOT, run, startS3Child } from './processes.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    shapes: { type: 'string', default: 'pinned,shared' },
    concurrency: { type: 'string', default: '2,8' },
    'busy-rounds': { type: 'string', default: '1' },
    sources: { type: 'string', default: '100' },
    hosts: { type: 'string', default: '4' },
    rows: { type: 'string', default: '300' },
    store: { type: 'string', default: 'local' },
    'poll-ms': { type: 'string', default: '50' },
    'idle-requests': { type: 'string', default: '300' },
    'idle-connections': { type: 'string', default: '8' },
    dir: { type: 'string', default: join(tmpdir(), 'snapkeep-bench-fleet') },
    out: { type: 'string', default: 'docs/benchmarks.md' },
    json: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});

const int = (name: keyof typeof opts, min: number): number => {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: an integer ≥ ${min}`);
  return n;
};
const runs = int('runs', 1);
const sources = int('sources', 1);
const hostCount = int('hosts', 1);
const shapes = opts.shapes.split(',').map((x) => {
  if (x !== 'pinned' && x !== 'shared') throw new Error(`--shapes: pinned or shared, not ${x}`);
  return x as FleetShape;
});
const concurrencies = opts.concurrency.split(',').map(Number);
if (concurrencies.some((c) => !Number.isInteger(c) || c < 1 || c > 64)) throw new Error('--concurrency: integers 1-64');
if (opts.store !== 'local' && opts.store !== 's3') throw new Error('--store: local or s3');
const workDir = resolve(opts.dir);
const outFile = opts.out === '-' ? undefined : isAbsolute(opts.out) ? opts.out : join(REPO_ROOT, opts.out);
const log = (line: string): void => { process.stderr.write(`[fleet ${new Date().toISOString().slice(11, 19)}] ${line}\n`); };

async function main(): Promise<void> {
  if (!opts['no-build'] || !existsSync(CLI_PATH)) {
    log('building (npm run build)');
    // Type errors in files being edited elsewhere still leave an emitted build behind.
    const built = await run('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT });
    if (built.code !== 0) log(`npm run build exited with ${built.code} (using what it emitted):\n${built.stdout.slice(-1500)}`);
  }
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const started = new Date();
  const databases = makeFleetDatabases(join(workDir, 'databases'), sources, int('rows', 1));
  const databaseBytes = readFileSync(databases[0]!).length;
  const hosts = Array.from({ length: hostCount }, (_, i) => `w${i + 1}`);
  let s3: FleetSetup['s3'];
  if (opts.store === 's3') {
    const child = await startS3Child(join(workDir, 's3'), 'snapkeep-fleet');
    s3 = {
      child,
      client: new S3Client({
        endpoint: child.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    };
  }
  const setup: FleetSetup = { workDir, databases, hosts, masterKey: randomBytes(32).toString('hex'), ...(s3 ? { s3 } : {}), log };
  const base = {
    pollMs: int('poll-ms', 1), idleRequests: int('idle-requests', 10), idleConnections: int('idle-connections', 1), timeoutMs: 600_000,
    ...(opts.profile ? { profileDir: resolve(opts.profile) } : {}),
  };
  const results: RoundResult[] = [];
  let failed = false;
  const one = async (shape: FleetShape, concurrency: number, busyConnections: number, label: string, breakdown: boolean): Promise<void> => {
    log(`${label}: ${shape}, BACKUP_CONCURRENCY ${concurrency}${busyConnections ? `, ${busyConnections} GET loops busy` : ''}`);
    const r = await runRound(setup, { ...base, shape, concurrency, busyConnections, label, breakdown });
    results.push(r);
    const sec = (x: number): string => (x / 1000).toFixed(2);
    log(`  every source backed up ${sec(r.lastBackupMs)} s after spawn (workers up ${r.workersUpMs.map(sec).join(', ')} s; first backup ${sec(r.firstStartMs)} s), ${r.objects} objects, drained ${sec(r.drainedMs)} s`);
    if (!opts.keep) rmSync(join(workDir, label), { recursive: true, force: true });
  };
  try {
    // Interleaved, so drift in the machine's load spreads over every configuration alike.
    for (let run = 1; run <= runs; run++) {
      for (const shape of shapes) {
        for (const c of concurrencies) await one(shape, c, 0, `${shape}-c${c}-run${run}`, run === 1);
      }
    }
    for (let run = 1; run <= int('busy-rounds', 0); run++) {
      for (const shape of shapes) await one(shape, concurrencies[0]!, base.idleConnections, `${shape}-c${concurrencies[0]}-busy${run}`, false);
    }
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    if (s3) { s3.client.destroy(); await s3.child.stop(); }
    // A failed round's logs are what explains it: kept, with the databases, until the next run.
    if (!opts.keep && !failed) rmSync(workDir, { recursive: true, force: true });
  }
  const command = `npm run bench -- --fleet${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const machine = [
    `Run ${started.toISOString()} – ${new Date().toISOString()}; ${cpus()[0]?.model ?? 'unknown CPU'}, nproc ${availableParallelism()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}; ${opts.store === 's3' ? 'store: s3rver in its own process' : 'store: a local directory (BACKUP_LOCAL_DIR)'}; ${sources} databases of ${opts.rows} rows (${(databaseBytes / 1024).toFixed(0)} KiB each).`,
  ];
  const report = fleetReport(results, { hosts: hostCount, sources, command, machine });
  process.stdout.write(`${report}\n`);
  if (opts.json) writeFileSync(resolve(opts.json), JSON.stringify(results, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v)));
  if (outFile) log(writeReportBlock(outFile, 'fleet', report));
}

await main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
