import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { factsMetadata, readFacts } from '../../src/backups/backup-facts.js';
import { loadConfig } from '../../src/config/load-config.js';
import { backup } from '../../workers/backup/backup.js';
import { verify } from '../../workers/verify/verify.js';
import { verifyBackup } from '../../workers/verify/verify-backup.js';
import { jobContext, openWorkspace, workspaceConfig, type RestoreWorkspace } from '../helpers/restore-harness.js';
import { createSampleDatabase } from '../helpers/sample-database.js';

/**
 * Issue 16, the restore drill as a job function, without Redis: which checks run, which fails, and
 * that nothing is left anywhere but where it was before.
 */
describe('verifyBackup', () => {
  let ws: RestoreWorkspace | undefined;
  afterEach(() => ws?.cleanup());

  const setUp = (env: Record<string, string> = {}) => {
    ws = openWorkspace('local');
    createSampleDatabase(ws.dbPath, 120);
    const master = randomBytes(32).toString('hex');
    const config = Object.keys(env).length === 0
      ? workspaceConfig(ws, { master })
      : loadConfig({ ...ws.storeEnv, DB_PATH: ws.dbPath, STATE_DIR: ws.stateDir, MASTER_KEY: master, ...env });
    return { config, ctx: jobContext(config, ws.store) };
  };
  const leftovers = (): string[] => [...readdirSync(join(ws!.stateDir, 'tmp')), ...readdirSync(join(ws!.root, 'live')).filter((n) => !/^app\.db(-wal|-shm)?$/.test(n))];

  it('an archive: origin, every entry and the database inside are checked, then the fingerprint', async () => {
    const { ctx } = setUp();
    mkdirSync(join(ws!.root, 'conf'), { recursive: true });
    writeFileSync(join(ws!.root, 'conf', 'app.toml'), 'answer = 42\n');
    const archiveCtx = { ...ctx, config: loadConfig({ ...ws!.storeEnv, DB_PATH: ws!.dbPath, STATE_DIR: ws!.stateDir, MASTER_KEY: ctx.config.masterKey!.toString('hex'), BACKUP_INCLUDE_PATHS: join(ws!.root, 'conf') }) };
    const made = await backup({ trigger: 'cli' }, archiveCtx);
    expect(made.kind).toBe('archive');
    const v = await verifyBackup(made.backupId, {}, archiveCtx);
    expect(v.verified, v.reason).toBe(true);
    expect(v.checks.map((c) => [c.check, c.outcome])).toEqual(
      ['download', 'decrypt', 'origin', 'archive-entries', 'sqlite-header', 'integrity_check', 'fingerprint'].map((c) => [c, 'passed']));
    expect(leftovers()).toEqual([]);
  });

  it('a backup whose content is not what was recorded fails the fingerprint check, naming the table', async () => {
    const { config, ctx } = setUp();
    const made = await backup({ trigger: 'cli' }, ctx);
    // A second object with the same bytes but facts, validly signed, that claim other row counts.
    const stored = await ws!.store.get(`${made.backupId}.crbu`);
    const chunks: Buffer[] = [];
    for await (const c of stored.body) chunks.push(c as Buffer);
    const id = made.backupId.replace(/-[0-9a-f]{8}$/, '-0000beef');
    const original = readFacts(made.backupId, stored.metadata, [config.masterKey!]);
    const facts = factsMetadata(id, {
      journalMode: 'wal', fingerprint: { tables: { notes: 999 }, schemaSha256: '0'.repeat(64) },
      ...(original.size !== undefined ? { size: original.size } : {}), ...(original.format !== undefined ? { format: original.format } : {}),
    }, config.masterKey!);
    await ws!.store.put(`${id}.crbu`, Readable.from([Buffer.concat(chunks)]), { metadata: { ...stored.metadata, ...facts } });
    const v = await verifyBackup(id, {}, ctx);
    expect(v, v.reason).toMatchObject({ verified: false, failedCheck: 'fingerprint' });
    // Said by the restore's own fingerprint check, or by the drill's, which names the tables.
    expect(v.reason).toMatch(/does not hold what backup \S+ recorded|the schema differs; table notes: 120 rows, 999 recorded/);
    expect(v.checks.at(-1)).toMatchObject({ check: 'fingerprint', outcome: 'failed' });
    expect(leftovers()).toEqual([]);
  });

  it('facts rewritten in the store are not believed: the fingerprint check fails', async () => {
    const { ctx } = setUp();
    const made = await backup({ trigger: 'cli' }, ctx);
    const sidecar = join(ws!.root, 'backups', `.${made.backupId}.crbu.meta.json`);
    const metadata = JSON.parse(readFileSync(sidecar, 'utf8')) as Record<string, string>;
    writeFileSync(sidecar, JSON.stringify({ ...metadata, 'snapkeep-journal-mode': 'delete' }));
    const v = await verifyBackup(made.backupId, {}, ctx);
    expect(v).toMatchObject({ verified: false, failedCheck: 'fingerprint', reason: expect.stringContaining('does not verify') });
  });

  it('a damaged database inside a valid envelope fails integrity_check', async () => {
    const { ctx } = setUp();
    createSampleDatabase(ws!.dbPath, 3000);
    const made = await backup({ trigger: 'cli' }, ctx);
    // Damage the snapshot's middle page before it is encrypted: re-encrypt a damaged image under the same id.
    const { encryptBuffer, damagedDatabase, snapkeepMetadata } = await import('../helpers/broken-backups.js');
    const { restore } = await import('../../workers/restore/restore.js');
    const restored = await restore({ backupId: made.backupId }, ctx);
    const image = damagedDatabase(readFileSync(restored.path));
    const stored = await ws!.store.head(`${made.backupId}.crbu`);
    await ws!.store.put(`${made.backupId}.crbu`, Readable.from([await encryptBuffer(ctx.config.masterKey!, image)]), { metadata: { ...stored.metadata, ...snapkeepMetadata(ctx.config.masterKey!) } });
    const { rmSync } = await import('node:fs');
    rmSync(restored.path);
    const v = await verifyBackup(made.backupId, {}, ctx);
    expect(v).toMatchObject({ verified: false, failedCheck: 'integrity_check', reason: expect.stringMatching(/^integrity check failed/) });
    expect(v.checks.map((c) => c.outcome)).toEqual(['passed', 'passed', 'passed', 'failed']);
    expect(leftovers()).toEqual([]);
  });

  it('the scheduled drill verifies the newest backup and one older one', async () => {
    const { ctx } = setUp();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await backup({ trigger: 'cli' }, ctx)).backupId);
      await new Promise((r) => setTimeout(r, 1100));
    }
    const result = await verify({ trigger: 'schedule' }, ctx);
    expect(result.verified).toBe(true);
    expect(result.verifications).toHaveLength(2);
    expect(result.verifications[0]!.backupId).toBe(ids[2]);
    expect(ids.slice(0, 2)).toContain(result.verifications[1]!.backupId);
  });

  it('the scheduled drill on an empty store verifies nothing and says why', async () => {
    const { ctx } = setUp();
    const result = await verify({ trigger: 'schedule' }, ctx);
    expect(result).toMatchObject({ verified: true, verifications: [], skippedReason: expect.stringContaining('no backup') });
  });
});
