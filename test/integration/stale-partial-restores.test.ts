import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logging/create-logger.js';
import { backup } from '../../workers/backup/backup.js';
import { restore } from '../../workers/restore/restore.js';
import { jobContext, openWorkspace, type RestoreWorkspace } from '../helpers/restore-harness.js';
import { createSampleDatabase } from '../helpers/sample-database.js';
import { OTHER_RUN } from '../helpers/stale-owners.js';

// Above any Linux pid_max, so never a live process.
const DEAD_PID = 2 ** 30;
const TWO_DAYS_AGO = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);

/**
 * An archive restore that dies (SIGKILL, power loss) leaves its hidden `.{name}.partial-…` sibling;
 * the next archive restore into the same parent removes such leftovers of dead runs before it
 * starts, as a CLI run must (it starts no worker), and for a --target outside STATE_DIR.
 */
describe('an archive restore removes the partial restores that dead runs left beside its target', () => {
  let ws: RestoreWorkspace;
  let config: Config;
  let backupId: string;
  let sleeper: ChildProcess;

  beforeAll(async () => {
    ws = openWorkspace('local');
    createSampleDatabase(ws.dbPath, 50);
    const conf = join(ws.root, 'conf');
    mkdirSync(conf);
    writeFileSync(join(conf, 'app.toml'), 'answer = 42\n');
    config = loadConfig({ ...ws.storeEnv, DB_PATH: ws.dbPath, STATE_DIR: ws.stateDir, MASTER_KEY: 'ab'.repeat(32), BACKUP_INCLUDE_PATHS: conf });
    backupId = (await backup({ trigger: 'api' }, jobContext(config, ws.store))).backupId;
    sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  });

  afterAll(async () => {
    if (sleeper && sleeper.exitCode === null && sleeper.signalCode === null) {
      sleeper.kill('SIGKILL');
      await once(sleeper, 'exit');
    }
    ws?.cleanup();
  });

  function partialDir(parent: string, name: string, old = false): string {
    const path = join(parent, name);
    mkdirSync(join(path, 'database'), { recursive: true });
    writeFileSync(join(path, 'database', 'app.sqlite'), 'half');
    if (old) utimesSync(path, TWO_DAYS_AGO, TWO_DAYS_AGO);
    return path;
  }

  function capturingContext(): { ctx: ReturnType<typeof jobContext>; removed: () => unknown[] } {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ctx = { ...jobContext(config, ws.store), logger: createLogger({ level: 'info', format: 'json', stream }) };
    const removed = (): unknown[] => Buffer.concat(chunks).toString('utf8').trim().split('\n').filter(Boolean)
      .map((line) => JSON.parse(line) as { message: string; path?: string })
      .filter((line) => line.message === 'removed a stale temporary').map((line) => line.path);
    return { ctx, removed };
  }

  it('under STATE_DIR/restore', async () => {
    const parent = join(ws.stateDir, 'restore');
    mkdirSync(parent, { recursive: true });
    const stale = [
      partialDir(parent, `.${backupId}.partial-${DEAD_PID}-${OTHER_RUN}-01234567`),
      partialDir(parent, `.20200101T000000Z-00000000.partial-${sleeper.pid}-${OTHER_RUN}-01234567`, true),
    ];
    const kept = [
      partialDir(parent, `.${backupId}.partial-${sleeper.pid}-${OTHER_RUN}-89abcdef`),
      partialDir(parent, '.notes.partial', true),
    ];
    const { ctx, removed } = capturingContext();
    const result = await restore({ backupId }, ctx);
    expect(result.path).toBe(join(parent, backupId));
    for (const path of stale) expect(existsSync(path), path).toBe(false);
    expect(removed().sort()).toEqual([...stale].sort());
    expect(readdirSync(parent).sort()).toEqual([backupId, ...kept.map((path) => path.slice(parent.length + 1))].sort());
  });

  it('beside a --target elsewhere', async () => {
    const parent = join(ws.root, 'elsewhere');
    mkdirSync(parent);
    const stale = partialDir(parent, `.old-target.partial-${DEAD_PID}-${OTHER_RUN}-01234567`);
    const notes = partialDir(parent, '.notes.partial', true);
    const { ctx, removed } = capturingContext();
    await restore({ backupId, target: join(parent, 'restored') }, ctx);
    expect(removed()).toEqual([stale]);
    expect(readdirSync(parent).sort()).toEqual(['.notes.partial', 'restored']);
    expect(existsSync(notes)).toBe(true);
  });
});
