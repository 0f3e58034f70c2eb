import { availableParallelism } from 'node:os';
import { Duplex } from 'node:stream';
import * as zlib from 'node:zlib';
import { requireZstd } from './zstd.js';
import { ZstdFrameStreams } from './zstd-frame-streams.js';

/**
 * zstd on several threads without Node's multi-threaded zstd stream (nbWorkers >= 1 cuts frames
 * short: nodejs/node#59899). The plaintext is cut into blocks of a fixed size and each block becomes
 * its own zstd frame, compressed on the libuv pool by one of a few zlib zstd streams (each frame
 * closed with ZSTD_e_end), so several blocks compress at once with no worker_threads. Frames go out
 * in input order; concatenated zstd frames are one valid zstd stream (RFC 8878 §3.1), which `zstd -d`
 * and Node's zstd decompressor read whole, so restores need no change. Independent frames lose only the matches across a block edge, which
 * measured nothing: 1 MiB frames of a 248 MiB text database came to 0.2058 of it, one frame 0.2063.
 */

/**
 * BLOCK_BYTES is the plaintext of one frame. Measured on 248 MiB (docs/benchmarks.md): 1 to 16 MiB
 * took the same time within the noise and gave sizes within 0.2 %, but peak RSS grew with the block
 * (text 150 / 162 / 173 MiB for 1 / 2 / 4 MiB, random 158 / 178 / 193; one stream: 149 / 135; a
 * one-shot zstdCompress per block, before the streams were reused), as blocks and frames are
 * allocated anew and freed late. So the smallest tried.
 */
export const BLOCK_BYTES = 1024 * 1024;

/**
 * defaultBlocksInFlight: one block per core, at most 4. The libuv pool has 4 threads by default
 * (UV_THREADPOOL_SIZE), and the snapshot's file reads share it: more blocks than threads would only
 * queue, and a read stuck behind four compressions would stall the stream.
 */
export function defaultBlocksInFlight(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/** CompressBlock makes one zstd frame of a block (a parameter so tests can delay or fail it). */
export type CompressBlock = (block: Buffer, level: number) => Promise<Buffer>;

/**
 * zstdFrame is one frame of block at level, with its content checksum, on the libuv pool, made by a
 * one-shot zlib.zstdCompress (tests wrap it; the compressor reuses streams: zstd-frame-streams.ts).
 */
export const zstdFrame: CompressBlock = (block, level) => new Promise((resolve, reject) => {
  const c = zlib.constants;
  const chunkSize = frameChunkSize(block.length);
  zlib.zstdCompress(block, { chunkSize, params: { [c.ZSTD_c_compressionLevel]: level, [c.ZSTD_c_checksumFlag]: 1 } }, (error, frame) => {
    if (error) reject(error);
    else resolve(frame);
  });
});

/** frameMargin is more than a frame can exceed its block by (ZSTD_compressBound: about 1/256, plus a header). */
function frameMargin(blockBytes: number): number {
  return Math.ceil(blockBytes / 128) + 64 * 1024;
}

/**
 * frameChunkSize: zlib's output buffer holds a whole frame. With its default 16 KiB, every 16 KiB of
 * output is another trip between the pool and the event loop (a 1 MiB random block: 64 of them);
 * 248 MiB took 1.4-1.7 s so against 0.9-1.0 s with one buffer.
 */
function frameChunkSize(blockBytes: number): number {
  return blockBytes + frameMargin(blockBytes);
}

export interface ParallelZstdOptions {
  blockBytes?: number;
  blocksInFlight?: number;
  compressBlock?: CompressBlock;
}

/** A block handed to the pool: its plaintext until its frame is back, then its frame until sent. */
interface Job {
  block: Buffer | undefined;
  frame: Buffer | undefined;
}

/**
 * ParallelZstdCompressor is a Duplex: plaintext in, zstd frames out, in order.
 *
 * Memory bound (what `heldBytes` counts; the test holds it to this): at most `blocksInFlight` jobs
 * exist, compressing or compressed and waiting for the reader, each holding its block or its frame
 * (a frame is at most a block plus zstd's small bound margin); plus the block being gathered (less
 * than one block, plus the last chunk written); plus Node's own buffers: the writable side (its
 * highWaterMark plus one chunk) and the readable side, which takes frames only while the reader
 * asks (one frame past its highWaterMark). So, for chunks written no larger than a block:
 *   heldBytes <= (blocksInFlight + 4) * blockBytes + the highWaterMarks + zstd's margins
 * which `heldBytesBound` gives; 1 MiB blocks and 2 in flight: about 7.3 MiB (4 in flight: 9.5).
 * A write is held (backpressure upstream) while all jobs are taken; a job is freed when its frame is
 * pushed to the reader, and frames are pushed only while the reader wants more (backpressure from
 * downstream).
 */
export class ParallelZstdCompressor extends Duplex {
  readonly blockBytes: number;
  readonly blocksInFlight: number;
  private readonly level: number;
  private readonly compressBlock: CompressBlock;
  /** Frees the zstd streams (at the end, or when destroyed). */
  private closeStreams: () => void = () => undefined;
  /** The block being gathered. */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  /** Jobs in input order: the first one's frame is the next to go out. */
  private readonly jobs: Job[] = [];
  private jobBytes = 0;
  private framesStarted = 0;
  /** A write (or the end) waiting for a free job. */
  private waitingForJob: (() => void) | undefined;
  private finalCallback: ((error?: Error | null) => void) | undefined;
  private readerWants = false;
  private ended = false;

  constructor(level: number, options: ParallelZstdOptions = {}) {
    super({ readableHighWaterMark: 64 * 1024, writableHighWaterMark: 1024 * 1024 });
    requireZstd();
    this.level = level;
    this.blockBytes = options.blockBytes ?? BLOCK_BYTES;
    this.blocksInFlight = Math.max(1, options.blocksInFlight ?? defaultBlocksInFlight());
    if (options.compressBlock) {
      this.compressBlock = options.compressBlock;
    } else {
      const streams = new ZstdFrameStreams(level, frameChunkSize(this.blockBytes));
      this.compressBlock = (block) => streams.frame(block);
      this.closeStreams = () => streams.close();
    }
  }

  /**
   * heldBytes is every plaintext and frame byte this stream holds now: gathered, in jobs, and in
   * Node's buffers (not zstd's own contexts, one per block in flight, about 1-3 MiB each at level 3).
   */
  get heldBytes(): number {
    return this.partsBytes + this.jobBytes + this.readableLength + this.writableLength;
  }

  /** heldBytesBound is the most heldBytes may reach when no chunk written exceeds a block (above). */
  get heldBytesBound(): number {
    return (this.blocksInFlight + 4) * this.blockBytes + (this.blocksInFlight + 1) * frameMargin(this.blockBytes)
      + this.readableHighWaterMark + this.writableHighWaterMark;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.parts.push(chunk);
    this.partsBytes += chunk.length;
    this.startFullBlocks(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // The rest is the last block; an empty input still becomes one (empty) frame, so the output
    // always starts with zstd's magic number, as a restore checks.
    const startLast = (): void => {
      if (this.partsBytes > 0 || this.framesStarted === 0) {
        if (this.jobs.length >= this.blocksInFlight) { this.waitingForJob = startLast; return; }
        this.startJob(this.cutBlock(this.partsBytes));
      }
      this.ended = true;
      this.finalCallback = callback;
      this.sendFrames();
    };
    startLast();
  }

  override _read(): void {
    this.readerWants = true;
    this.sendFrames();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Jobs still on the pool finish and are dropped (sendFrames checks `destroyed`).
    this.parts = [];
    this.partsBytes = 0;
    this.waitingForJob = undefined;
    this.finalCallback = undefined;
    this.closeStreams();
    callback(error);
  }

  private startFullBlocks(callback: () => void): void {
    while (this.partsBytes >= this.blockBytes) {
      if (this.jobs.length >= this.blocksInFlight) { this.waitingForJob = () => this.startFullBlocks(callback); return; }
      this.startJob(this.cutBlock(this.blockBytes));
    }
    callback();
  }

  /** cutBlock cuts the first `bytes` of the gathered parts (no copy when one part holds them all). */
  private cutBlock(bytes: number): Buffer {
    let block: Buffer;
    const first = this.parts[0];
    if (first && first.length >= bytes) {
      block = first.subarray(0, bytes);
      if (first.length === bytes) this.parts.shift();
      else this.parts[0] = first.subarray(bytes);
    } else {
      block = Buffer.allocUnsafe(bytes);
      let at = 0;
      while (at < bytes) {
        const part = this.parts[0]!;
        const n = Math.min(part.length, bytes - at);
        part.copy(block, at, 0, n);
        at += n;
        if (n === part.length) this.parts.shift();
        else this.parts[0] = part.subarray(n);
      }
    }
    this.partsBytes -= bytes;
    return block;
  }

  private startJob(block: Buffer): void {
    const job: Job = { block, frame: undefined };
    this.jobs.push(job);
    this.jobBytes += block.length;
    this.framesStarted++;
    this.compressBlock(block, this.level).then(
      (frame) => {
        if (this.destroyed) return;
        this.jobBytes += frame.length - block.length;
        job.block = undefined;
        job.frame = frame;
        this.sendFrames();
      },
      (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /** sendFrames pushes finished frames in order while the reader wants them, freeing their jobs. */
  private sendFrames(): void {
    if (this.destroyed) return;
    while (this.readerWants && this.jobs[0]?.frame) {
      const job = this.jobs.shift()!;
      const frame = job.frame!;
      job.frame = undefined;
      this.jobBytes -= frame.length;
      this.readerWants = this.push(frame);
      const waiting = this.waitingForJob;
      this.waitingForJob = undefined;
      waiting?.();
    }
    if (this.ended && this.jobs.length === 0 && this.finalCallback) {
      const callback = this.finalCallback;
      this.finalCallback = undefined;
      this.closeStreams();
      this.push(null);
      callback();
    }
  }
}

/** createParallelZstdCompressor: zstd frames of what is written to it, at level (1-19), with checksums. */
export function createParallelZstdCompressor(level: number, options: ParallelZstdOptions = {}): ParallelZstdCompressor {
  return new ParallelZstdCompressor(level, options);
}
