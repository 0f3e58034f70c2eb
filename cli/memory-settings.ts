/**
 * memory-settings keeps V8's young generation at its initial size (1 MiB semi-spaces) for one-shot
 * commands. Loading the CLI's modules made V8 grow it to its maximum, RSS that a `backup create` or
 * `restore` never needed: their data lives in Buffers outside the JS heap, and the scavenges of a
 * small young generation cost them nothing measurable. Imported first by the entry point, so the
 * flag is set before the other modules run; `--semi-space-growth-factor` is read at each growth, so
 * setting it at run time takes effect. A worker thread's start resets it:
 * src/snapshot/run-sqlite-thread.ts sets it again (src/v8-flags.ts).
 *
 * The long-running roles (serve, api, worker) grow the young generation as V8 likes, up to a maximum
 * that only the command line can set (`--max-semi-space-size` is read at start-up; set at run time it
 * changes nothing, measured on Node 24): `npm start`, the Dockerfile and the `#!` line of
 * cli/snapkeep.ts start Node with `--max-semi-space-size=4` (`env -S`: coreutils 8.30 or later, not
 * BusyBox; elsewhere run `node --max-semi-space-size=4 dist/cli/snapkeep.js`). Node 24's own maximum (32 MiB semi-spaces, a 64 MiB young
 * generation) cost `serve` about 115 MiB of RSS (375 against 260 MiB under load) and scavenges long
 * enough to put GET /api/jobs/:id at p99 11 ms at 8 connections (4.7-6.4 ms with 4; 2 and 1 were no
 * better). Measured with `npm run bench -- --load-only --no-compression --no-link --no-fleet` and
 * the flag on the serve process (docs/benchmarks.md).
 */
import { setV8FlagAtRunTime } from '../src/v8-flags.js';

const LONG_RUNNING = new Set(['serve', 'api', 'worker']);

if (!process.argv.slice(2).some((arg) => LONG_RUNNING.has(arg))) setV8FlagAtRunTime('--semi-space-growth-factor=1');
