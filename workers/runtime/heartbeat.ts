import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../src/logging/create-logger.js';
import { runOwner } from '../../src/temporaries/stale-temporaries.js';

/**
 * heartbeatFileName is this host's heartbeat under STATE_DIR, `worker.{hostname}.heartbeat`: workers
 * that share a STATE_DIR (scaled containers, pods) each keep their own, so one live worker cannot
 * make a stuck one look healthy. A check finds it with `$(hostname)`.
 */
export function heartbeatFileName(): string {
  return `worker.${hostname()}.heartbeat`;
}
/** HEARTBEAT_INTERVAL_MS is how often a healthy worker rewrites it; a check allows 60 s (six beats). */
export const HEARTBEAT_INTERVAL_MS = 10_000;
/** A failing write is logged at most this often. */
const WARN_EVERY_MS = 60_000;

export interface HeartbeatOptions {
  /** The file to keep fresh (STATE_DIR/worker.{hostname}.heartbeat). */
  path: string;
  intervalMs?: number;
  /** Whether this beat may be written: workers running and Redis answering. Never rejects. */
  isAlive: () => Promise<boolean>;
  logger: Logger;
  /** Goes into the file, for a human reading it. */
  role: string;
}

export interface Heartbeat {
  /** Stops beating, waits for a write in flight, and removes the file if it is still this process's. */
  stop(): Promise<void>;
}

/**
 * startHeartbeat rewrites `path` every intervalMs while isAlive() says so, so that its mtime tells a
 * health check (`stat -c %Y`) that this process's event loop turns and its Redis answers. Each beat
 * is written to a temporary name beside it (mode 0600) and renamed over it: a reader never sees half
 * a file. A beat that isAlive refuses is skipped, so the file goes stale. The timer is unref'd and
 * nothing here throws: a failed write is logged, at most once a minute.
 */
export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { path, logger } = options;
  const temp = join(dirname(path), `.${basename(path)}.${runOwner()}.tmp`);
  let lastContent: string | undefined;
  let lastWarnAt = -Infinity;
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  const write = async (): Promise<void> => {
    if (!(await options.isAlive()) || stopped) return;
    const content = `${JSON.stringify({ at: new Date().toISOString(), pid: process.pid, host: hostname(), role: options.role })}\n`;
    try {
      // STATE_DIR may not exist yet in a `worker` process (nothing else there needs it at start).
      if (lastContent === undefined) await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(temp, content, { mode: 0o600 });
      await rename(temp, path);
      lastContent = content;
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      if (Date.now() - lastWarnAt >= WARN_EVERY_MS) {
        lastWarnAt = Date.now();
        logger.warn('could not write the worker heartbeat', { path, error: (err as Error).message });
      }
    }
  };
  const beat = (): void => {
    if (inFlight || stopped) return; // a slow beat (Redis slow to answer) is not stacked
    inFlight = write().catch(() => undefined).finally(() => { inFlight = undefined; });
  };

  beat();
  const timer = setInterval(beat, options.intervalMs ?? HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      // Several workers may share one STATE_DIR: remove only the beat this process wrote last.
      if (lastContent === undefined) return;
      try {
        if ((await readFile(path, 'utf8')) === lastContent) await rm(path, { force: true });
      } catch {
        // Already gone, or unreadable: nothing to remove.
      }
    },
  };
}
