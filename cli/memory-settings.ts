/**
 * memory-settings keeps V8's young generation at its initial size (1 MiB semi-spaces) for one-shot
 * commands. Loading the CLI's modules made V8 grow it to its 16 MiB maximum, about 25 MiB of peak
 * RSS that a `backup create` or `restore` never needed: their data lives in Buffers outside the JS
 * heap, and the scavenges of a small young generation cost them nothing measurable. The long-running
 * roles (serve, api, worker) keep V8's defaults. Imported first by the entry point, so the flag is
 * set before the other modules run; `--semi-space-growth-factor` is read at each growth, so setting
 * it at run time takes effect (`--max-semi-space-size` would not: it is read at start-up). A worker
 * thread's start resets it: src/snapshot/run-sqlite-thread.ts sets it again (src/v8-flags.ts).
 */
import { setV8FlagAtRunTime } from '../src/v8-flags.js';

const LONG_RUNNING = new Set(['serve', 'api', 'worker']);

if (!process.argv.slice(2).some((arg) => LONG_RUNNING.has(arg))) setV8FlagAtRunTime('--semi-space-growth-factor=1');
