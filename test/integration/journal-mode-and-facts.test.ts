import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { readFacts } from '../../src/backups/backup-facts.js';
import { journalModeOf } from '../../src/snapshot/journal-mode.js';
import { backup } from '../../workers/backup/backup.js';
import { restore } from '../../workers/restore/restore.js';
import { jobContext, openWorkspace, workspaceConfig, type RestoreWorkspace } from '../helpers/restore-harness.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

/**
 * Issue 15 (restores keep the journal mode) and issue 16 (a content fingerprint recorded with each
 * backup): both are written, authenticated, beside the object; a tampered record is not believed.
 */
describe('facts recorded with a database backup', () => {
  let ws: RestoreWorkspace | undefined;
  afterEach(() => ws?.cleanup());

  const setUp = (journal: 'wal' | 'delete') => {
    ws = openWorkspace('local');
    createSampleDatabase(ws.dbPath, 120);
    if (journal === 'delete') {
      const db = new Database(ws.dbPath);
      db.pragma('journal_mode = DELETE');
      db.close();
    }
    const config = workspaceConfig(ws, { master: randomBytes(32).toString('hex') });
    return { config, ctx: jobContext(config, ws.store) };
  };

  it.each(['wal', 'delete'] as const)('a %s database restores in the same journal mode, with every row', async (mode) => {
    const { config, ctx } = setUp(mode);
    const made = await backup({ trigger: 'cli' }, ctx);
    const stored = await ws!.store.get(`${made.backupId}.crbu`);
    stored.body.destroy();
    const facts = readFacts(made.backupId, stored.metadata, [config.masterKey!]);
    expect(facts).toMatchObject({ authenticated: true, journalMode: mode, fingerprint: { tables: { notes: 120 } } });
    const restored = await restore({ backupId: made.backupId }, ctx);
    expect(restored.journalMode).toBe(mode);
    expect(journalModeOf(restored.path)).toBe(mode);
    expect(readNotes(restored.path)).toHaveLength(120);
  });

  it('does not believe facts rewritten in the store (the journal mode is not applied)', async () => {
    const { config, ctx } = setUp('wal');
    const made = await backup({ trigger: 'cli' }, ctx);
    // A bucket writer edits the directory store's sidecar: claims another mode and other row counts.
    const sidecar = join(ws!.store.description.replace(/^directory "|"$/g, ''), `.${made.backupId}.crbu.meta.json`);
    const metadata = JSON.parse(readFileSync(sidecar, 'utf8')) as Record<string, string>;
    writeFileSync(sidecar, JSON.stringify({ ...metadata, 'snapkeep-journal-mode': 'delete' }));
    const tampered = await ws!.store.get(`${made.backupId}.crbu`);
    tampered.body.destroy();
    expect(readFacts(made.backupId, tampered.metadata, [config.masterKey!])).toEqual({ authenticated: false });
    // Another key does not vouch for the untouched facts either.
    expect(readFacts(made.backupId, metadata, [randomBytes(32)])).toEqual({ authenticated: false });
    const restored = await restore({ backupId: made.backupId }, ctx);
    expect(restored.journalMode).toBeUndefined();
    expect(journalModeOf(restored.path)).toBe('delete');
  });
});
