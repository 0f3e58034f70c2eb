import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectSources } from '../../src/archive/collect-sources.js';
import { stageSources } from '../../src/archive/stage-sources.js';
import { SnapkeepError } from '../../src/errors.js';
import { removeDir } from '../helpers/redis-server.js';

/**
 * Issue 13, finding 5: someone who can write inside an included directory (the application's own
 * user) swaps one of its directories for a link to a 0700 directory it cannot read, between the
 * backup's walk and its read, hoping the backup (which can read it) copies the secret for them.
 */
const SECRET = 'TOP-SECRET-d6c1f0a2';

describe('staging never follows a directory swapped for a link', () => {
  let base: string;
  let app: string;
  let vault: string;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'snapkeep-swap-'));
    chmodSync(base, 0o755);
    app = join(base, 'app');
    // The intruder's decoys: the same names as the vault's files, so the walk lists them.
    mkdirSync(join(app, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(app, 'sub', 'id_rsa'), 'decoy');
    writeFileSync(join(app, 'sub', 'deeper', 'id_rsa'), 'decoy');
    writeFileSync(join(app, 'app.yml'), 'listen: 8080\n');
    vault = join(base, 'vault');
    mkdirSync(join(vault, 'deeper'), { recursive: true });
    writeFileSync(join(vault, 'id_rsa'), SECRET);
    writeFileSync(join(vault, 'deeper', 'id_rsa'), SECRET);
    chmodSync(vault, 0o700);
  });
  afterEach(() => removeDir(base));

  /** swap puts a link to the vault where app/sub was: what the intruder does between walk and read. */
  const swap = (): void => {
    renameSync(join(app, 'sub'), join(app, 'sub.moved'));
    symlinkSync(vault, join(app, 'sub'));
  };

  const staged = (path: string): string => (existsSync(path) ? readFileSync(path, 'latin1') : '');

  it('fails the backup naming the swapped directory, and stages none of the secret', async () => {
    const collected = await collectSources([app], { exclude: [], protect: [] });
    expect(collected.entries.map((e) => e.sourcePath)).toContain(join(app, 'sub', 'deeper', 'id_rsa'));
    swap();
    const stagingPath = join(base, 'staging');
    const error = await stageSources(collected.entries, stagingPath).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(SnapkeepError);
    expect((error as SnapkeepError).message).toBe(`${join(app, 'sub')} was replaced while it was being backed up (links are never followed); try again`);
    expect((error as SnapkeepError).retryable).toBe(true);
    expect(staged(stagingPath)).not.toContain(SECRET);
  });

  it('fails as well when a directory higher on the path is swapped after the walk opened the lower one', async () => {
    // Only app/sub/deeper/id_rsa is left to read: its grandparent is the one that changes.
    const collected = await collectSources([app], { exclude: ['/**/app.yml', 'sub/id_rsa'], protect: [] });
    expect(collected.entries.filter((e) => e.type === 'file').map((e) => e.sourcePath)).toEqual([join(app, 'sub', 'deeper', 'id_rsa')]);
    swap();
    const stagingPath = join(base, 'staging');
    await expect(stageSources(collected.entries, stagingPath)).rejects.toThrow(`${join(app, 'sub')} was replaced`);
    expect(staged(stagingPath)).not.toContain(SECRET);
  });

  it('reads a file an application replaced by rename after the walk as it is now, without failing', async () => {
    const collected = await collectSources([app], { exclude: [], protect: [] });
    writeFileSync(join(app, 'app.yml.tmp'), 'listen: 9090\n');
    renameSync(join(app, 'app.yml.tmp'), join(app, 'app.yml'));
    const result = await stageSources(collected.entries, join(base, 'staging'));
    expect(result.entries.find((e) => e.sourcePath === join(app, 'app.yml'))).toMatchObject({ size: 'listen: 9090\n'.length });
    expect(staged(join(base, 'staging'))).toContain('listen: 9090');
  });

  it('still archives a link that was a link at the walk, as a link', async () => {
    symlinkSync(vault, join(app, 'vault-link'));
    const collected = await collectSources([app], { exclude: [], protect: [] });
    const stagingPath = join(base, 'staging');
    const result = await stageSources(collected.entries, stagingPath);
    expect(result.entries.find((e) => e.sourcePath === join(app, 'vault-link'))).toMatchObject({ type: 'symlink', linkTarget: vault });
    expect(result.entries.some((e) => e.sourcePath.startsWith(`${join(app, 'vault-link')}/`))).toBe(false);
    expect(staged(stagingPath)).not.toContain(SECRET);
  });

  describe('against an intruder flipping the directory and the link as fast as it can', () => {
    let flipper: ChildProcess | undefined;
    afterEach(async () => {
      if (flipper && flipper.exitCode === null) {
        const exited = new Promise((resolve) => flipper!.once('exit', resolve));
        flipper.kill('SIGKILL');
        await exited;
      }
      flipper = undefined;
    });

    it('never stages the secret: every run stores the decoys or fails naming a replaced path', async () => {
      const sub = join(app, 'sub');
      const moved = join(app, 'sub.moved');
      // Another process, as the intruder would be: rename the directory away, put the link, undo, again.
      const script = `const fs = require('node:fs');
        for (;;) {
          try { fs.renameSync(${JSON.stringify(sub)}, ${JSON.stringify(moved)}); fs.symlinkSync(${JSON.stringify(vault)}, ${JSON.stringify(sub)}); } catch {}
          try { fs.unlinkSync(${JSON.stringify(sub)}); fs.renameSync(${JSON.stringify(moved)}, ${JSON.stringify(sub)}); } catch {}
        }`;
      flipper = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
      const outcomes = { stored: 0, refused: 0 };
      const deadline = Date.now() + 3_000;
      for (let run = 0; Date.now() < deadline; run++) {
        const stagingPath = join(base, `staging-${run}`);
        try {
          const collected = await collectSources([app], { exclude: [], protect: [] });
          await stageSources(collected.entries, stagingPath);
          outcomes.stored++;
        } catch (error) {
          expect(error).toBeInstanceOf(SnapkeepError);
          expect((error as Error).message).toMatch(/ was replaced while it was being backed up \(links are never followed\); try again$/);
          outcomes.refused++;
        }
        expect(staged(stagingPath)).not.toContain(SECRET);
        rmSync(stagingPath, { force: true });
      }
      expect(outcomes.stored + outcomes.refused).toBeGreaterThan(10);
    });
  });
});
