import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyArchive } from '../../src/apply/apply-archive.js';
import { streamFeeds } from '../../src/archive/feed-stream.js';
import { createLogger } from '../../src/logging/create-logger.js';
import { createAppDatabase } from '../helpers/live-files.js';
import { removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

const logger = createLogger({ level: 'error', format: 'json' });
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const sh = (script: string): string[] => ['sh', '-c', script];

/** `backup apply` of an archive with streams (src/apply/apply-archive.ts), on real files and commands. */
describe('apply: streams go back through their restoreCommand', () => {
  let dir: string;
  let dbPath: string;
  let restoreDir: string;
  let moves: Array<{ from: string; to: string; group: string }>;
  const commands = { stop: undefined, start: undefined, env };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-stream-apply-'));
    dbPath = createAppDatabase(dir, 3);
    restoreDir = join(dir, 'restore');
    mkdirSync(join(restoreDir, 'database'), { recursive: true });
    mkdirSync(join(restoreDir, 'streams'));
    createSampleDatabase(join(restoreDir, 'database', 'app.sqlite'), 5);
    writeFileSync(join(restoreDir, 'streams', 'mail'), 'the mail spool\n');
    moves = [{ from: join(restoreDir, 'database', 'app.sqlite'), to: dbPath, group: 'data' }];
  });
  afterEach(() => removeDir(dir));

  it('pipes the restored member into the restoreCommand once the database is in place', async () => {
    const out = join(dir, 'fed');
    const streams = await streamFeeds(restoreDir, [{ name: 'mail', restoreCommand: sh(`cat > ${out}`) }, { name: 'no-command' }]);
    await applyArchive({ dbPath, moves, journalMode: undefined, commands, logger, streams });
    expect(readFileSync(out, 'utf8')).toBe('the mail spool\n');
    expect(readNotes(dbPath)).toHaveLength(5);
  });

  it('a restoreCommand that fails names the stream and puts the database back', async () => {
    const streams = await streamFeeds(restoreDir, [{ name: 'mail', restoreCommand: sh('cat >/dev/null; echo "tar: cannot write" >&2; exit 2') }]);
    const failed = applyArchive({ dbPath, moves, journalMode: undefined, commands, logger, streams });
    const message = await failed.then(() => 'succeeded', (e: Error) => e.message);
    expect(message).toMatch(/^apply failed: stream "mail": restoreCommand exited with status 2: tar: cannot write\. Put back what had moved: /);
    expect(readNotes(dbPath)).toHaveLength(3);
  });

  it('refuses, before anything changes, a stream with a restoreCommand that the backup does not hold', async () => {
    await expect(streamFeeds(restoreDir, [{ name: 'calendar', restoreCommand: ['true'] }]))
      .rejects.toMatchObject({ code: 'apply_refused', message: expect.stringContaining('stream "calendar"') });
  });
});
