import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { removeDir } from '../helpers/redis-server.js';

/**
 * Streams as a user declares them in SNAPKEEP_CONFIG (issue 14), through the built CLI: a source
 * with no database, only a directory and two command streams, backed up and restored.
 */
describe('snapkeep backup create/restore of a source with streams and no database', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-stream-cli-'));
    mkdirSync(join(dir, 'conf'));
    writeFileSync(join(dir, 'conf', 'app.yml'), 'listen: 8080\n');
    writeFileSync(join(dir, 'sources.yaml'), [
      'sources:',
      '  - name: mail',
      `    include: [${join(dir, 'conf')}]`,
      '    schedule: { off: true }',
      '    streams:',
      '      - name: spool',
      '        command: [sh, -c, "printf \'message one\\n\'; echo SECRET_SEEN=${MASTER_KEY:-none}"]',
      `        restoreCommand: [sh, -c, "cat > ${join(dir, 'fed')}"]`,
      '  - name: broken',
      '    schedule: { off: true }',
      '    streams:',
      '      - { name: dump, command: [sh, -c, "echo \'pg_dump: connection refused\' >&2; exit 2"] }',
    ].join('\n'));
    env = {
      SNAPKEEP_CONFIG: join(dir, 'sources.yaml'), BACKUP_LOCAL_DIR: join(dir, 'backups'), STATE_DIR: join(dir, 'state'),
      MASTER_KEY: randomBytes(32).toString('hex'),
    };
  });
  afterAll(() => { if (dir) removeDir(dir); });

  it('backs up and restores the stream beside the directory, without the master key in its environment', async () => {
    const made = await runCli(['backup', 'create', '--source', 'mail', '--json'], env);
    expect(made.code, made.stderr).toBe(0);
    const { backupId, kind } = JSON.parse(made.stdout) as { backupId: string; kind: string };
    expect(kind).toBe('archive');
    const restored = await runCli(['backup', 'restore', '--id', backupId, '--source', 'mail', '--json'], env);
    expect(restored.code, restored.stderr).toBe(0);
    const result = JSON.parse(restored.stdout) as { path: string; archive: { skipped: Array<{ path: string; reason: string }> } };
    expect(readdirSync(result.path).sort()).toEqual(['files', 'streams']);
    expect(readFileSync(join(result.path, 'streams', 'spool'), 'utf8')).toBe('message one\nSECRET_SEEN=none\n');
    expect(result.archive.skipped).toContainEqual({ path: join(result.path, 'streams', 'spool'), reason: expect.stringContaining('restoreCommand') });
    // The text output lists the stream apart, never as something the backup left out.
    const text = await runCli(['backup', 'restore', '--id', backupId, '--source', 'mail', '--target', join(dir, 'again')], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`streams (1): pipe each into its source's restoreCommand`);
    expect(text.stdout).toContain(join(dir, 'again', 'streams', 'spool'));
    expect(text.stdout).not.toContain('left out of the backup');
  });

  it('fails a backup whose stream command fails, naming the stream, with exit code 1', async () => {
    const made = await runCli(['backup', 'create', '--source', 'broken'], env);
    expect(made.code).toBe(1);
    expect(made.stderr).toContain('stream "dump": command exited with status 2: pg_dump: connection refused');
    const listed = await runCli(['backup', 'list', '--source', 'broken', '--json'], env);
    expect((JSON.parse(listed.stdout) as { backups: unknown[] }).backups).toEqual([]);
  });
});
