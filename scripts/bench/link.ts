/**
 * link: snapkeep against `aws s3 cp` over a 30 ms round trip (issue 17), and the part concurrency.
 *
 * It creates a network namespace, brings its loopback up and delays it with netem, starts the S3
 * server INSIDE the namespace, and runs everything inside it (`ip netns exec`): `aws s3 cp` of a
 * snapshot-sized file (a `VACUUM INTO` copy of the database) up and down, `snapkeep backup create`
 * with BACKUP_S3_PART_CONCURRENCY in --concurrency (BACKUP_COMPRESSION=none, and zstd at 4) and
 * `snapkeep backup restore` (none and zstd), in interleaved rounds (each round starts at a different
 * operation), every sample logged with the 1-minute load. The delay:
 *
 *   - s3rver: `tc qdisc add dev lo root netem delay 15ms` (every packet on lo waits 15 ms: 30 ms RTT);
 *   - Ceph RGW: the same netem, but only for packets to or from radosgw's port (a prio qdisc with
 *     u32 filters), so radosgw's own traffic to its OSD is not delayed, as a gateway next to its
 *     storage; the server starts before the delay is put on.
 *
 * The namespace, its servers and the inner process are removed on exit, on failure and on
 * SIGINT/SIGTERM (the outer process deletes the namespace after killing whatever is left in it).
 *
 *   scripts/bench-link.sh [--servers s3rver,s3rver-cli,ceph] [--concurrency 1,2,4,8,16] [--rounds 3]
 *     [--restore-concurrency 4,10] [--size 256M] [--dir DIR] [--delay-ms 15] [--out FILE.jsonl]
 *
 * Every restore sample carries `parts.download`: the restore's own log of the time to the last byte
 * downloaded and decrypted (the rest is process start and the checks).
 *
 * Needs root, iproute2 (ip, tc), the AWS CLI, sqlite3, `npm run build` (dist/cli/snapkeep.js) and,
 * for ceph, the Debian packages ceph-mon, ceph-osd, radosgw, ceph-common. It prints a markdown table
 * (ratios are medians of paired rounds: each run over the same round's `aws s3 cp`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDatabase } from './databases.js';
import { startDelayProxy, type DelayProxy } from './delay-proxy.js';
import {
  MiB, SampleLog, makeLog, sizeBytes, awsDownload, awsEnv, awsUpload, deleteKey, fileBytes, rotate, snapkeepCreate, snapkeepEnv, snapkeepRestore,
  startTarget, summaryTable, useCli, type S3Target, type ServerKind,
} from './issue17.js';
import { run, runOk } from './processes.js';
import { writeReportBlock } from './report-block.js';

const { values: opts } = parseArgs({
  options: {
    servers: { type: 'string', default: 's3rver,ceph' },
    concurrency: { type: 'string', default: '1,2,4,8,16' },
    'restore-concurrency': { type: 'string', default: '4' }, // ranges in flight for the restore of the none backup
    rounds: { type: 'string', default: '3' },
    size: { type: 'string', default: '256M' },
    dir: { type: 'string', default: join(tmpdir(), 'snapkeep-bench') },
    'delay-ms': { type: 'string', default: '15' },
    delay: { type: 'string', default: 'auto' }, // netem | proxy | auto (netem when the kernel has it)
    out: { type: 'string' },
    report: { type: 'string' }, // a markdown file whose `<!-- link:begin/end -->` block gets the table
    compressions: { type: 'string', default: 'none,zstd' }, // zstd: one create at 4 parts in flight, and a restore
    cli: { type: 'string' }, // another build of dist/cli/snapkeep.js (see useCli in issue17.ts)
    inside: { type: 'string' }, // internal: the namespace this process runs in
  },
  strict: true,
});

const log = makeLog('link');

// ---------------------------------------------------------------- outside: the namespace

async function outside(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('link.ts needs root (ip netns, tc)');
  const ns = `snapkeep-link-${process.pid}`;
  let child: ReturnType<typeof spawn> | undefined;
  const cleanup = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    }
    // Whatever is still in the namespace was started by this benchmark: kill it by pid, then the namespace.
    const pids = await run('ip', ['netns', 'pids', ns]).catch(() => null);
    for (const pid of (pids?.stdout ?? '').split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone already */ }
    }
    await run('ip', ['netns', 'del', ns]).catch(() => null);
    log(`namespace ${ns} removed`);
  };
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runOk('ip', ['netns', 'add', ns]);
    await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    log(`namespace ${ns} up`);
    const args = [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), '--inside', ns];
    child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: 'inherit' });
    const code = await new Promise<number>((resolve) => child!.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
    return code;
  } finally {
    if (!stopping) await cleanup();
  }
}

// ---------------------------------------------------------------- inside

const tc = (...args: string[]): Promise<unknown> => runOk('tc', args);

/** setDelay puts the netem delay on lo: on everything (s3rver), or only on the server's port (Ceph). */
async function setDelay(kind: ServerKind, port: number, delayMs: number): Promise<string> {
  await run('tc', ['qdisc', 'del', 'dev', 'lo', 'root']); // none yet is fine
  if (delayMs <= 0) return 'no delay';
  if (kind !== 'ceph') {
    await tc('qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', `${delayMs}ms`);
    return `tc qdisc add dev lo root netem delay ${delayMs}ms`;
  }
  await tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'prio', 'bands', '4', 'priomap', '1', '2', '2', '2', '1', '2', '0', '0', '1', '1', '1', '1', '1', '1', '1', '1');
  await tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:4', 'handle', '40:', 'netem', 'delay', `${delayMs}ms`);
  for (const dir of ['dport', 'sport']) {
    await tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', dir, String(port), '0xffff', 'flowid', '1:4');
  }
  return `prio qdisc on lo, netem delay ${delayMs}ms on band 4, u32 filters sport/dport ${port} → band 4`;
}

/** requestMs is the median time of 5 HTTP requests (GET /) on new connections: connect + one exchange, about 2 round trips. */
async function requestMs(port: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => { res.resume(); res.once('end', resolve); });
      req.once('error', reject);
      req.end();
    });
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[2]!;
}

async function inside(ns: string): Promise<void> {
  const workDir = opts.dir;
  mkdirSync(workDir, { recursive: true });
  const size = sizeBytes(opts.size);
  const label = opts.size.toUpperCase();
  const rounds = Number(opts.rounds);
  const concurrencies = opts.concurrency.split(',').map(Number);
  const restoreConcurrencies = opts['restore-concurrency'].split(',').map(Number);
  const delayMs = Number(opts['delay-ms']);
  const cli = useCli(opts.cli);
  const withZstd = opts.compressions.split(',').includes('zstd');
  const outFile = opts.out ?? join(workDir, `link-${Date.now()}.jsonl`);
  const samples = new SampleLog(outFile);
  const db = ensureDatabase(join(workDir, `text-${label}.db`), size, log, 'text');
  const scratch = join(workDir, `link-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  const snapshot = join(scratch, 'snapshot.db');
  await runOk('sqlite3', [db.path, `VACUUM INTO '${snapshot}'`]);
  const masterKey = randomBytes(32).toString('hex');
  let target: S3Target | undefined;
  let proxy: DelayProxy | undefined;
  const stopAll = async (): Promise<void> => {
    await proxy?.close();
    proxy = undefined;
    await run('tc', ['qdisc', 'del', 'dev', 'lo', 'root']);
    await target?.stop().catch(() => undefined);
    target = undefined;
    rmSync(scratch, { recursive: true, force: true });
  };
  const onSignal = (): void => { void stopAll().finally(() => process.exit(130)); };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const qdiscs: string[] = [];
  try {
    log(`inside ${ns}; database ${db.path} (${(db.size / MiB).toFixed(0)} MiB), snapshot ${(fileBytes(snapshot) / MiB).toFixed(0)} MiB; samples → ${outFile}`);
    for (const kind of opts.servers.split(',') as ServerKind[]) {
      await run('tc', ['qdisc', 'del', 'dev', 'lo', 'root']);
      target = await startTarget(kind, join(scratch, 's3'), 'snapkeep-link');
      let qdisc: string;
      // The clients' view of the server: itself behind netem, or the delaying proxy.
      let far: S3Target = target;
      const netem = opts.delay === 'proxy' ? null : await setDelay(kind, target.port, delayMs).catch((error: Error) => {
        if (opts.delay === 'netem') throw error;
        log(`netem not available (${error.message.split('\n')[1] ?? error.message}): using the delaying TCP proxy`);
        return null;
      });
      if (netem) {
        qdisc = netem;
      } else {
        proxy = await startDelayProxy({ targetPort: target.port, rttMs: 2 * delayMs });
        far = { ...target, endpoint: `http://127.0.0.1:${proxy.port}`, port: proxy.port };
        qdisc = `no netem in this kernel: scripts/bench/delay-proxy.ts (RTT ${2 * delayMs} ms, window 14 KiB growing to 4 MiB per connection) in front of the server`;
      }
      const rtt = await requestMs(far.port);
      qdiscs.push(`${kind}: ${qdisc}; an HTTP request on a new connection (connect + request: 2 round trips) ${rtt.toFixed(1)} ms`);
      log(`${kind} at ${far.endpoint}; ${qdisc}; HTTP request on a new connection ${rtt.toFixed(1)} ms`);
      const group = `${kind}, ${delayMs * 2} ms RTT, ${label} text`;
      const aws = awsEnv(far, scratch);
      const env = (prefix: string, compression: 'none' | 'zstd', concurrency: number): Record<string, string> =>
        snapkeepEnv(far, { dbPath: db.path, stateDir: join(scratch, `state-${prefix}`), prefix: `${prefix}/`, compression, concurrency, masterKey });
      // Objects the downloads read, made once (untimed).
      await awsUpload(far, aws, snapshot, 'aws/ref.db');
      const refNone = await snapkeepCreate(far, env('ref-none', 'none', 4), scratch);
      const refZstd = withZstd ? await snapkeepCreate(far, env('ref-zstd', 'zstd', 4), scratch) : undefined;
      let r = 0;
      type Op = { op: string; fn: () => Promise<unknown> };
      const ops: Op[] = [
        { op: 'aws s3 cp up', fn: async () => { await samples.time(group, 'aws s3 cp up', r, () => awsUpload(far, aws, snapshot, 'aws/up.db')); await deleteKey(target!, 'aws/up.db'); } },
        { op: 'aws s3 cp down', fn: () => samples.time(group, 'aws s3 cp down', r, () => awsDownload(far, aws, 'aws/ref.db', join(scratch, 'down.db'))).finally(() => rmSync(join(scratch, 'down.db'), { force: true })) },
        ...concurrencies.map((c) => ({ op: `create none ×${c}`, fn: async () => { const x = await samples.time(group, `backup create none, ${c} parts in flight`, r, () => snapkeepCreate(far, env(`c${c}`, 'none', c), scratch)); await deleteKey(target!, x.key); } })),
        ...(!refZstd ? [] : [{ op: 'create zstd ×4', fn: async () => { const x = await samples.time(group, 'backup create zstd, 4 parts in flight', r, () => snapkeepCreate(far, env('z4', 'zstd', 4), scratch)); await deleteKey(target!, x.key); } }]),
        ...restoreConcurrencies.map((c) => ({
          op: `restore none ×${c}`,
          fn: () => samples.time(group, c === 4 ? 'backup restore none' : `backup restore none, ${c} ranges in flight`, r, () => snapkeepRestore(env('ref-none', 'none', c), scratch, refNone.backupId)),
        })),
        ...(!refZstd ? [] : [{ op: 'restore zstd', fn: () => samples.time(group, 'backup restore zstd', r, () => snapkeepRestore(env('ref-zstd', 'zstd', 4), scratch, refZstd.backupId)) }]),
      ];
      for (r = 1; r <= rounds; r++) {
        for (const { fn } of rotate(ops, (r - 1) * 3)) await fn();
      }
      await proxy?.close();
      proxy = undefined;
      await target.stop();
      target = undefined;
    }
  } finally {
    await stopAll();
  }
  const baselines = (_group: string, op: string): string[] => (op.startsWith('aws') ? [] : [op.includes('restore') ? 'aws s3 cp down' : 'aws s3 cp up']);
  const table = summaryTable(samples.samples, baselines, () => fileBytes(db.path));
  const head = `Delay: ${qdiscs.join('; ')}. Database ${db.path}, ${(db.size / MiB).toFixed(0)} MiB. CLI: ${cli}. Samples: ${outFile}.`;
  process.stdout.write(`\n${head}\n\n${table.join('\n')}\n`);
  if (opts.report) log(writeReportBlock(opts.report, 'link', reportText(head, table)));
}

/** reportText is the link block of docs/benchmarks.md: when and how it ran, then the table. */
function reportText(head: string, table: string[]): string {
  const command = `scripts/bench-link.sh ${process.argv.slice(2).filter((a, i, all) => a !== '--inside' && all[i - 1] !== '--inside').join(' ')}`.trim();
  return [`Written by \`${command}\` at ${new Date().toISOString()} (Node ${process.version}; 1-minute load at the end ${loadavg()[0]!.toFixed(2)}).`, '', head, '', ...table].join('\n');
}

if (opts.inside) {
  await inside(opts.inside).catch((error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
} else {
  process.exitCode = await outside().catch((error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return 1;
  });
}
