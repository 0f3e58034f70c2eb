import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

/** Issue 14: the CLI's backup commands act on one source of SNAPKEEP_CONFIG, named by --source. */
describe('the CLI with several sources', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-cli-sources-'));
    createSampleDatabase(join(dir, 'a.db'), 100);
    createSampleDatabase(join(dir, 'b.db'), 250);
    writeFileSync(join(dir, 'sources.yaml'), `sources:\n  - { name: a, database: ${join(dir, 'a.db')} }\n  - { name: b, database: ${join(dir, 'b.db')} }\n`);
    env = {
      SNAPKEEP_CONFIG: join(dir, 'sources.yaml'), MASTER_KEY: randomBytes(32).toString('hex'), BACKUP_LOCAL_DIR: join(dir, 'store'), STATE_DIR: join(dir, 'state'),
    };
  });
  afterAll(() => { if (dir) removeDir(dir); });
  // A directory store keeps each object's metadata in a hidden sidecar beside it.
  const objectsOf = (source: string): string[] => (existsSync(join(dir, 'store', source)) ? readdirSync(join(dir, 'store', source)).filter((n) => !n.startsWith('.')) : []);

  it('backs up, lists and restores the source --source names, in its own folder', async () => {
    const made = await runCli(['backup', 'create', '--source', 'b', '--json'], env);
    expect(made.code, made.stderr).toBe(0);
    const { backupId, source } = JSON.parse(made.stdout) as { backupId: string; source: string };
    expect(objectsOf('b')).toEqual([`${backupId}.crbu`]);
    expect(source).toBe('b');
    const listed = await runCli(['backup', 'list', '--source', 'b', '--json'], env);
    expect(JSON.parse(listed.stdout)).toMatchObject({ source: 'b', backups: [{ id: backupId }] });
    expect(JSON.parse((await runCli(['backup', 'list', '--source', 'a', '--json'], env)).stdout)).toEqual({ source: 'a', backups: [] });
    const restored = await runCli(['backup', 'restore', '--source', 'b', '--id', backupId, '--json'], env);
    expect(restored.code, restored.stderr).toBe(0);
    expect(readNotes((JSON.parse(restored.stdout) as { path: string }).path)).toHaveLength(250);
  });

  it('exits 2 for a source that is not declared, or none among several without a default', async () => {
    const unknown = await runCli(['backup', 'list', '--source', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no source named "nope" is declared');
    const none = await runCli(['backup', 'create'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('name one (a, b)');
    expect(objectsOf('a')).toEqual([]);
  });
});
