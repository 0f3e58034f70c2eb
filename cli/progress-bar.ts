import type { JobProgress } from '../src/queue/job-types.js';

const MiB = 1024 * 1024;

/**
 * ProgressBar draws a one-line bar on stderr when stderr is a terminal, and nothing otherwise, so
 * scripts and logs never receive carriage-return noise.
 */
export class ProgressBar {
  private readonly enabled: boolean;
  private drawn = false;

  constructor(enabled: boolean = process.stderr.isTTY === true) {
    this.enabled = enabled;
  }

  update(progress: JobProgress): void {
    if (!this.enabled) return;
    const width = 30;
    const filled = Math.round((Math.max(0, Math.min(100, progress.percent)) / 100) * width);
    const bytes = progress.bytesTotal > 0 ? ` ${(progress.bytesDone / MiB).toFixed(1)}/${(progress.bytesTotal / MiB).toFixed(1)} MiB` : '';
    const line = `${progress.phase.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(progress.percent).padStart(3)}%${bytes}`;
    process.stderr.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  done(): void {
    if (this.enabled && this.drawn) process.stderr.write('\n');
    this.drawn = false;
  }
}
