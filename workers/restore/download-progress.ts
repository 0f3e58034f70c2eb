import { Transform } from 'node:stream';
import type { JobContext } from '../runtime/job-context.js';

// Progress goes to Redis through the job adapter: a few updates a second are plenty.
const REPORT_INTERVAL_MS = 200;

/** DownloadCounter passes a download through, reporting `download` progress; bytesDone is what arrived. */
export interface DownloadCounter extends Transform {
  readonly bytesDone: number;
}

/** countDownload makes the pass-through that reports download progress of an object of bytesTotal bytes. */
export function countDownload(ctx: JobContext, bytesTotal: number): DownloadCounter {
  let bytesDone = 0;
  let lastReport = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytesDone += chunk.length;
      const now = Date.now();
      if (now - lastReport > REPORT_INTERVAL_MS) {
        lastReport = now;
        ctx.reportProgress({ phase: 'download', percent: Math.min(99, Math.floor((bytesDone / Math.max(1, bytesTotal)) * 100)), bytesDone, bytesTotal });
      }
      callback(null, chunk);
    },
  });
  return Object.defineProperty(counter, 'bytesDone', { get: () => bytesDone }) as DownloadCounter;
}
