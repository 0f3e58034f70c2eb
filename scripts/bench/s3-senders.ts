/**
 * s3-senders shows what the S3 server spends on one upload from each sender: the same file sent by
 * `aws s3 cp` and by `snapkeep backup create` (which snapshots it first), each to a fresh s3rver
 * process started with `--cpu-prof`. For each it prints the upload's wall time, the server's CPU
 * time during it (from /proc/PID/stat) and the server's profile: garbage collection and the
 * functions with the most self time. docs/benchmarks.md quotes it for the backup's gap at 1 GiB.
 *
 * Run (after `npm run build`; a database from `npm run bench` is reused):
 *   node --import tsx scripts/bench/s3-senders.ts [DB_FILE] [--runs N] [--dir DIR]
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { summariseProfile, topEntries } from './cpu-profile.js';
import { CLI_PATH, runOk, startS3Child } from './processes.js';

const { values: opts, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '2' }, dir: { type: 'string', default: join(tmpdir(), 'snapkeep-s3-senders') } },
  allowPositionals: true,
});
const dbFile = positionals[0] ?? join(tmpdir(), 'snapkeep-bench', 'bench-1G.db');
const workDir = opts.dir;
rmSync(workDir, { recursive: true, force: true });
mkdirSync(workDir, { recursive: true });
mkdirSync(join(workDir, 'data'));
writeFileSync(join(workDir, 'aws-config'), '[default]\n');

/** cpuMs is a process's user + system CPU time so far, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

type Sender = 'aws' | 'snapkeep';

async function uploadOnce(sender: Sender, run: number): Promise<void> {
  const profileDir = join(workDir, `${sender}-${run}`);
  const s3 = await startS3Child(join(workDir, 'data'), 'senders', ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
  const before = cpuMs(s3.pid);
  let wallMs: number;
  if (sender === 'aws') {
    wallMs = (await runOk('aws', ['s3', 'cp', '--only-show-errors', '--endpoint-url', s3.endpoint, dbFile, `s3://${s3.bucket}/plain.db`], {
      env: {
        ...base, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: join(workDir, 'aws-config'), AWS_SHARED_CREDENTIALS_FILE: join(workDir, 'aws-config'),
        AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED', AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      },
    })).wallMs;
  } else {
    wallMs = (await runOk(process.execPath, [CLI_PATH, 'backup', 'create'], {
      env: {
        ...base, MASTER_KEY: '11'.repeat(32), DB_PATH: dbFile, STATE_DIR: join(workDir, 'state'),
        BACKUP_S3_ENDPOINT: s3.endpoint, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: 'S3RVER', BACKUP_S3_SECRET_KEY: 'S3RVER',
      },
    })).wallMs;
  }
  const serverCpu = cpuMs(s3.pid) - before;
  await s3.stop();
  const profile = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summariseProfile(join(profileDir, f)))
    .sort((a, b) => b.totalUs - a.totalUs)[0]!;
  const ms = (us: number | undefined): string => `${((us ?? 0) / 1000).toFixed(0)} ms`;
  const top = topEntries(profile.functions, 4).filter(([name]) => !name.startsWith('(')).map(([name, us]) => `${name.split(' ')[0]} ${ms(us)}`);
  console.log(`${sender.padEnd(8)} run ${run}: wall ${(wallMs / 1000).toFixed(2)} s (snapkeep: snapshot included), s3rver CPU ${serverCpu} ms, `
    + `s3rver GC ${ms(profile.functions.get('(garbage collector)'))}, top: ${top.join(', ')}`);
}

const runs = Number(opts.runs);
for (let run = 1; run <= runs; run++) {
  for (const sender of ['aws', 'snapkeep'] as const) await uploadOnce(sender, run);
}
rmSync(workDir, { recursive: true, force: true });
