import { Readable } from 'node:stream';
import { SnapkeepError } from '../errors.js';

/**
 * A range fetcher: the bytes [start, end] of the object, whole, as the chunks they arrived in (not
 * copied into one buffer: a fresh 8 MiB buffer per range cost a restore of 1 GiB about 1 s of page
 * faults and copying, and the GC more), or a rejection.
 */
export type FetchRange = (start: number, end: number, signal: AbortSignal) => Promise<Buffer[]>;

/**
 * rangedBody is an object's bytes as one stream, from its first range (already open, streamed as it
 * comes) and the rest fetched as ranges of partSize, `concurrency` at a time, handed on in order.
 * Over a link with tens of milliseconds of latency one GET stream is held back by TCP's window;
 * several ranges in flight fill the link, as `aws s3 cp` does. Memory is bounded: at most
 * `concurrency` ranges in flight plus the one being handed on, each partSize. Each range asks for the same version of the object
 * as the first (the caller's fetchRange sends If-Match with its ETag), so a backup replaced during
 * a restore fails the restore instead of mixing two objects. Destroying the stream aborts every
 * range in flight.
 */
export function rangedBody(first: Readable, options: {
  firstLength: number; total: number; partSize: number; concurrency: number; fetchRange: FetchRange; signal?: AbortSignal;
}): Readable {
  const { total, partSize, concurrency, fetchRange } = options;
  const aborter = new AbortController();
  const onAbort = (): void => aborter.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });

  async function* chunks(): AsyncGenerator<Buffer> {
    const starts: number[] = [];
    for (let start = options.firstLength; start < total; start += partSize) starts.push(start);
    const inFlight: Array<Promise<Buffer[]>> = [];
    let next = 0;
    const launch = (room: number): void => {
      while (inFlight.length < room && next < starts.length) {
        const start = starts[next++]!;
        const end = Math.min(start + partSize, total) - 1;
        const range = fetchRange(start, end, aborter.signal).then((chunks) => {
          const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
          if (length !== end - start + 1) throw new SnapkeepError('truncated', `a range of the object came back with ${length} bytes, not ${end - start + 1}`, { retryable: true });
          return chunks;
        });
        // Awaited in order below; until then a rejection must not count as unhandled.
        range.catch(() => undefined);
        inFlight.push(range);
      }
    };
    try {
      // While the first range streams, the next ones are already on their way (one buffer fewer:
      // the first range's bytes pass through without being held).
      launch(Math.max(1, concurrency - 1));
      let firstBytes = 0;
      for await (const chunk of first) {
        firstBytes += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (firstBytes !== options.firstLength) throw new SnapkeepError('truncated', `the object's first range ended after ${firstBytes} of ${options.firstLength} bytes`, { retryable: true });
      launch(concurrency);
      while (inFlight.length > 0) {
        const chunks = await inFlight.shift()!;
        launch(concurrency);
        yield* chunks;
      }
    } finally {
      // Done, failed, or destroyed by the reader: nothing keeps downloading.
      aborter.abort();
      first.destroy();
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 1 });
}

/** parseContentRange reads `bytes 0-8388607/734003200`: the object's whole size, or undefined. */
export function totalFromContentRange(header: string | undefined): number | undefined {
  const m = /^bytes \d+-\d+\/(\d+)$/.exec(header ?? '');
  return m ? Number(m[1]) : undefined;
}
