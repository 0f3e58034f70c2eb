/**
 * compression: BACKUP_COMPRESSION=zstd against none and against the plain tools (issue 17), on
 * s3rver (through the tests' wrapper, and as a user starts it with its own CLI) and on Ceph RGW, on
 * loopback without delay (the 30 ms link is scripts/bench/link.ts).
 *
 * For each server and size, in interleaved rounds (each round starts at a different operation;
 * every sample is logged with the 1-minute load average at its start):
 *
 *   compressible database (text columns and an index, scripts/bench/databases.ts 'text'):
 *     - plain backup: `sqlite3 db "VACUUM INTO 'x'"` + `aws s3 cp x s3://…`
 *     - plain backup with zstd: `VACUUM INTO` + `zstd -3 -T0` + `aws s3 cp`
 *     - `snapkeep backup create` with BACKUP_COMPRESSION=none and =zstd (level 3, 4 parts in flight)
 *     - plain restore: `aws s3 cp` + `sqlite3 x 'PRAGMA integrity_check'`; with zstd: + `zstd -d`
 *     - `snapkeep backup restore` of a none and of a zstd backup
 *   incompressible database (random blobs, 'random'): `backup create` and `restore`, none and zstd.
 *
 * Peak RSS from /usr/bin/time -v; object sizes from HeadObject. Ratios are medians of paired rounds.
 *
 *   node --import tsx scripts/bench/compression.ts [--servers s3rver,s3rver-cli,ceph] [--sizes 256M,1G]
 *     [--rounds 3] [--kinds text,random] [--dir DIR] [--out FILE.jsonl] [--cli dist/cli/snapkeep.js]
 *     [--report FILE.md [--block compression]]
 *
 * Needs `npm run build`, the AWS CLI, sqlite3, zstd, /usr/bin/time and, for ceph, the Debian
 * packages ceph-mon, ceph-osd, radosgw, ceph-common. The databases are made in --dir on first use.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDatabase, type BenchDatabase, type DatabaseKind } from './databases.js';
import {
  SampleLog, makeLog, sizeBytes, awsEnv, deleteKey, plainBackup, plainRestore, rotate, snapkeepCreate, snapkeepEnv, snapkeepRestore,
  startTarget, summaryTable, useCli, type S3Target, type ServerKind,
} from './issue17.js';
import { writeReportBlock } from './report-block.js';

const { values: opts } = parseArgs({
  options: {
    servers: { type: 'string', default: 's3rver,s3rver-cli,ceph' },
    sizes: { type: 'string', default: '256M' },
    rounds: { type: 'string', default: '3' },
    kinds: { type: 'string', default: 'text,random' },
    dir: { type: 'string', default: join(tmpdir(), 'snapkeep-bench') },
    out: { type: 'string' },
    report: { type: 'string' }, // a markdown file whose `<!-- BLOCK:begin/end -->` block gets the table
    block: { type: 'string', default: 'compression' },
    cli: { type: 'string' },
  },
  strict: true,
});

const log = makeLog('compression');

const BASELINES: Record<string, string[]> = {
  'backup create none': ['plain backup'],
  'backup create zstd': ['plain backup', 'plain backup + zstd -3 -T0'],
  'backup restore none': ['plain restore'],
  'backup restore zstd': ['plain restore', 'plain restore + zstd -d'],
};
const RANDOM_BASELINES: Record<string, string[]> = { 'backup create zstd': ['backup create none'], 'backup restore zstd': ['backup restore none'] };

async function main(): Promise<void> {
  const workDir = opts.dir;
  mkdirSync(workDir, { recursive: true });
  const cli = useCli(opts.cli);
  const rounds = Number(opts.rounds);
  const kinds = opts.kinds.split(',') as DatabaseKind[];
  const servers = opts.servers.split(',') as ServerKind[];
  const unknown = servers.filter((k) => !['s3rver', 's3rver-cli', 'ceph'].includes(k));
  if (unknown.length) throw new Error(`--servers: s3rver, s3rver-cli or ceph, not ${unknown.join(', ')}`);
  const outFile = opts.out ?? join(workDir, `compression-${Date.now()}.jsonl`);
  const samples = new SampleLog(outFile);
  const scratch = join(workDir, `compression-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  const masterKey = randomBytes(32).toString('hex');
  const dbSizes = new Map<string, number>();
  let target: S3Target | undefined;
  const stopAll = async (): Promise<void> => {
    await target?.stop().catch(() => undefined);
    target = undefined;
    rmSync(scratch, { recursive: true, force: true });
  };
  const onSignal = (): void => { void stopAll().finally(() => process.exit(130)); };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    log(`CLI ${cli}; samples → ${outFile}`);
    for (const kind of servers) {
      target = await startTarget(kind, join(scratch, 's3'), 'snapkeep-compression');
      const t = target;
      log(`${kind} at ${t.endpoint}`);
      const aws = awsEnv(t, scratch);
      for (const label of opts.sizes.split(',').map((x) => x.toUpperCase())) {
        for (const dbKind of kinds) {
          const db: BenchDatabase = ensureDatabase(join(workDir, `${dbKind === 'text' ? 'text' : 'bench'}-${label}.db`), sizeBytes(label), log, dbKind);
          const group = `${kind}, ${label} ${dbKind}`;
          dbSizes.set(group, db.size);
          const env = (prefix: string, compression: 'none' | 'zstd'): Record<string, string> =>
            snapkeepEnv(t, { dbPath: db.path, stateDir: join(scratch, `state-${prefix}`), prefix: `${prefix}/`, compression, concurrency: 4, masterKey });
          // Objects the restores read, made once (untimed).
          const refs = {
            none: await snapkeepCreate(t, env('ref-none', 'none'), scratch),
            zstd: await snapkeepCreate(t, env('ref-zstd', 'zstd'), scratch),
          };
          let r = 0;
          const create = (compression: 'none' | 'zstd') => async (): Promise<void> => {
            const x = await samples.time(group, `backup create ${compression}`, r, () => snapkeepCreate(t, env(`c-${compression}`, compression), scratch));
            await deleteKey(t, x.key);
          };
          const restore = (compression: 'none' | 'zstd') => (): Promise<unknown> =>
            samples.time(group, `backup restore ${compression}`, r, () => snapkeepRestore(env(`ref-${compression}`, compression), scratch, refs[compression].backupId));
          const ops: Array<() => Promise<unknown>> = [create('none'), create('zstd'), restore('none'), restore('zstd')];
          if (dbKind === 'text') {
            await plainBackup(t, aws, db.path, join(scratch, 'ref'), 'plain/ref.db', false);
            await plainBackup(t, aws, db.path, join(scratch, 'ref'), 'plainz/ref.db.zst', true);
            ops.push(
              async () => { await samples.time(group, 'plain backup', r, () => plainBackup(t, aws, db.path, join(scratch, 'p'), 'plain/up.db', false)); await deleteKey(t, 'plain/up.db'); },
              async () => { await samples.time(group, 'plain backup + zstd -3 -T0', r, () => plainBackup(t, aws, db.path, join(scratch, 'p'), 'plainz/up.db.zst', true)); await deleteKey(t, 'plainz/up.db.zst'); },
              () => samples.time(group, 'plain restore', r, () => plainRestore(t, aws, 'plain/ref.db', join(scratch, 'p'), false)),
              () => samples.time(group, 'plain restore + zstd -d', r, () => plainRestore(t, aws, 'plainz/ref.db.zst', join(scratch, 'p'), true)),
            );
          }
          for (r = 1; r <= rounds; r++) {
            for (const op of rotate(ops, (r - 1) * 3)) await op();
          }
          for (const key of [refs.none.key, refs.zstd.key, ...(dbKind === 'text' ? ['plain/ref.db', 'plainz/ref.db.zst'] : [])]) await deleteKey(t, key);
        }
      }
      await t.stop();
      target = undefined;
    }
  } finally {
    await stopAll();
  }
  const baselines = (group: string, op: string): string[] => (group.endsWith('random') ? RANDOM_BASELINES : BASELINES)[op] ?? [];
  const table = summaryTable(samples.samples, baselines, (group) => dbSizes.get(group) ?? 1);
  process.stdout.write(`\nCLI: ${cli}. Samples: ${outFile}.\n\n${table.join('\n')}\n`);
  if (opts.report) {
    const command = `node --import tsx scripts/bench/compression.ts ${process.argv.slice(2).join(' ')}`.trim();
    const head = `Written by \`${command}\` at ${new Date().toISOString()} (Node ${process.version}; 1-minute load at the end ${loadavg()[0]!.toFixed(2)}). CLI: ${cli}. Samples: ${outFile}.`;
    log(writeReportBlock(opts.report, opts.block, [head, '', ...table].join('\n')));
  }
}

await main().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
