/**
 * bench-crypto measures CRBU throughput: 512 MiB of pseudo-random data piped through
 * createEncryptStream and then createDecryptStream in one pipeline, as a backup and a restore
 * would, and prints MiB/s. Run: node --import tsx scripts/bench-crypto.ts [MiB] [chunkKiB]
 * (defaults 512 MiB in 1 MiB chunks, the backup job's read size); BENCH_HWM=KiB overrides the
 * streams' highWaterMark.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream } from '../src/crypto/crbu-decrypt-stream.js';
import { createEncryptStream } from '../src/crypto/crbu-encrypt-stream.js';

const totalMiB = Number(process.argv[2] ?? 512);
const chunkKiB = Number(process.argv[3] ?? 1024);
const chunkSize = chunkKiB * 1024;
const total = totalMiB * 1024 * 1024;
const masterKey = randomBytes(32);
const hwm = process.env.BENCH_HWM ? { highWaterMark: Number(process.env.BENCH_HWM) * 1024 } : {};
// One random block reused: generating 512 MiB of fresh randomness would dominate the timing.
const block = randomBytes(chunkSize);

function source(): Readable {
  let sent = 0;
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunkSize, total - sent);
      sent += size;
      this.push(size === chunkSize ? block : block.subarray(0, size));
    },
  });
}

async function measure(label: string, build: () => Promise<number>): Promise<void> {
  const started = process.hrtime.bigint();
  const bytes = await build();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = totalMiB / seconds;
  console.log(`${label}: ${(bytes / 1024 / 1024).toFixed(0)} MiB in ${seconds.toFixed(2)} s = ${rate.toFixed(0)} MiB/s`);
}

function counter(onDone: (bytes: number) => void): Writable {
  let bytes = 0;
  return new Writable({
    highWaterMark: chunkSize,
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback();
    },
    final(callback) {
      onDone(bytes);
      callback();
    },
  });
}

async function run(withDecrypt: boolean): Promise<number> {
  let bytes = 0;
  const sink = counter((n) => (bytes = n));
  if (withDecrypt) {
    await pipeline(source(), createEncryptStream(masterKey, 1, hwm), createDecryptStream(masterKey, { acceptVersions: [1], ...hwm }), sink);
    if (bytes !== total) throw new Error(`round trip returned ${bytes} bytes, expected ${total}`);
  } else {
    await pipeline(source(), createEncryptStream(masterKey, 1, hwm), sink);
  }
  return bytes;
}

console.log(`node ${process.version}, ${totalMiB} MiB, ${chunkKiB} KiB chunks`);
await measure('encrypt only', () => run(false));
await measure('encrypt + decrypt (same pipeline)', () => run(true));
// Flat memory is part of the contract: peak RSS must not grow with the amount streamed.
console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
