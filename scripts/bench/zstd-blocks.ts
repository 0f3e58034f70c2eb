/**
 * zstd-blocks: how the parallel zstd compressor's block size and blocks in flight trade time for size
 * (src/compression/parallel-zstd.ts), on a file, as a backup reads it (1 MiB chunks, level 3), against
 * Node's one-thread zstd stream (what backups used before) and `zstd -3 -T0`.
 *
 *   node --import tsx scripts/bench/zstd-blocks.ts FILE [--blocks 1,2,4,8,16] [--flight 1,2,3,4] [--rounds 2] [--level 3]
 *
 * Prints one line per run: wall, output size and its ratio, CPU (user + system) over wall, and the
 * 1-minute load at its start. Rounds are interleaved so that a change of load touches every setting.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { loadavg } from 'node:os';
import { Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import * as zlib from 'node:zlib';
import { createParallelZstdCompressor } from '../../src/compression/parallel-zstd.js';

const { values: opts, positionals } = parseArgs({
  options: {
    blocks: { type: 'string', default: '1,2,4,8,16' },
    flight: { type: 'string', default: '1,2,3,4' },
    rounds: { type: 'string', default: '2' },
    level: { type: 'string', default: '3' },
  },
  allowPositionals: true,
  strict: true,
});
const file = positionals[0];
if (!file) throw new Error('usage: zstd-blocks.ts FILE [options]');
const level = Number(opts.level);
const MiB = 1024 * 1024;

async function run(name: string, compressor: () => Duplex): Promise<void> {
  const load = loadavg()[0]!;
  let outBytes = 0;
  let inBytes = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const source = createReadStream(file!, { highWaterMark: MiB });
  source.on('data', (chunk) => { inBytes += chunk.length; });
  await pipeline(source, compressor(), new Writable({ write(chunk: Buffer, _e, cb) { outBytes += chunk.length; cb(); } }));
  const wall = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  console.log(`${name.padEnd(28)} ${wall.toFixed(2)} s  out ${(outBytes / MiB).toFixed(2)} MiB (${(outBytes / inBytes).toFixed(4)})  cpu/wall ${(cpuSeconds / wall).toFixed(2)}  load ${load.toFixed(2)}`);
}

function runCli(): void {
  const load = loadavg()[0]!;
  const started = performance.now();
  const out = execFileSync('zstd', [`-${level}`, '-T0', '-c', file!], { maxBuffer: 4 * 1024 * MiB });
  const wall = (performance.now() - started) / 1000;
  console.log(`${'zstd CLI -T0'.padEnd(28)} ${wall.toFixed(2)} s  out ${(out.length / MiB).toFixed(2)} MiB  load ${load.toFixed(2)}`);
}

const blockSizes = opts.blocks.split(',').map(Number);
const inFlight = opts.flight.split(',').map(Number);
for (let round = 1; round <= Number(opts.rounds); round++) {
  console.log(`round ${round}`);
  runCli();
  await run('one-thread stream', () => zlib.createZstdCompress({
    params: { [zlib.constants.ZSTD_c_compressionLevel]: level, [zlib.constants.ZSTD_c_checksumFlag]: 1 }, chunkSize: MiB,
  }));
  for (const blocks of blockSizes) {
    for (const n of inFlight) {
      await run(`blocks ${blocks} MiB, ${n} in flight`, () => createParallelZstdCompressor(level, { blockBytes: blocks * MiB, blocksInFlight: n }));
    }
  }
}
