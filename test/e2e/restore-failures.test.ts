import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROKEN_BACKUPS, liveDbState, makeDatabaseImage, sha256File, strayFiles, takeStrayFiles, writeBytes, type LiveDbState } from '../helpers/broken-backups.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { newBackupIdLike, openWorkspace, putObject, readSampleVector, takeTemporaryLeftovers, type RestoreWorkspace } from '../helpers/restore-harness.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { readNotes } from '../helpers/sample-database.js';

const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');

/** failureLine is the one line the CLI prints for a failed command: `snapkeep: <reason>`. */
function failureLine(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((line) => line.startsWith('snapkeep: '));
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0]!.slice('snapkeep: '.length);
}

let s3: TestS3Server;
beforeAll(async () => { s3 = await startS3Server({ bucket: 'snapkeep-restore-cli' }); });
afterAll(async () => { await s3?.close(); });

describe.each(['local', 's3'] as const)('snapkeep backup restore (in-process) from a %s store', (kind) => {
  let ws: RestoreWorkspace;
  let env: Record<string, string>;
  let before: LiveDbState;
  const ids = new Map<string, string>();
  // Verified restores the tests made on purpose; anything else beside DB_PATH is a leftover.
  const restored: string[] = [];

  beforeAll(async () => {
    ws = openWorkspace(kind, s3);
    const image = makeDatabaseImage(ws.dbPath);
    env = { ...ws.storeEnv, DB_PATH: ws.dbPath, STATE_DIR: ws.stateDir, MASTER_KEY: KEY_A };
    for (const broken of BROKEN_BACKUPS) {
      const id = newBackupIdLike();
      ids.set(broken.name, id);
      await putObject(ws.store, id, await broken.build(image, Buffer.from(KEY_A, 'hex')));
    }
    before = liveDbState(ws.dbPath);
  });

  afterEach(() => {
    expect(liveDbState(ws.dbPath)).toEqual(before);
    // Removed before asserting, so that a leftover fails the test that left it and no other.
    const leftovers = { beside: takeStrayFiles(ws.dbPath, restored), stateTmp: takeTemporaryLeftovers(ws.stateDir) };
    expect(leftovers).toEqual({ beside: [], stateTmp: [] });
  });

  afterAll(() => ws?.cleanup());

  // Every case against S3, the store operators use; the restore function meets both stores in
  // test/integration/restore.test.ts, and a CLI process per case costs about half a second.
  if (kind === 's3') {
    it.each(BROKEN_BACKUPS)('refuses $name: exit 1, the reason on stderr, nothing beside DB_PATH', async (broken) => {
      const result = await runCli(['backup', 'restore', '--id', ids.get(broken.name)!], env);
      expect(result.code, result.stderr).toBe(1);
      expect(failureLine(result)).toMatch(broken.reason);
      expect(result.stdout).toBe('');
      expect(result.stderr).not.toContain(KEY_A);
    });
  }

  it('restores the shared vector file byte for byte and prints the swap steps', async () => {
    const vector = readSampleVector();
    const id = newBackupIdLike();
    await putObject(ws.store, id, { bytes: vector.crbu, metadata: {} });
    const result = await runCli(['backup', 'restore', '--id', id], { ...env, MASTER_KEY: vector.masterKey.toString('hex') });
    expect(result.code, result.stderr).toBe(0);
    const target = `${ws.dbPath}.restore.${id}`;
    expect(sha256File(target)).toBe(vector.plaintextSha256);
    expect(result.stdout).toContain(`mv ${ws.dbPath} ${ws.dbPath}.old && mv ${target} ${ws.dbPath}`);
    // The old -wal goes with the old database, under the name SQLite pairs with it.
    expect(result.stdout).toContain(`mv ${ws.dbPath}-wal ${ws.dbPath}.old-wal`);
    restored.push(`app.db.restore.${id}`);
  });

  it('restores a backup made under an old key only once MASTER_KEY_PREVIOUS holds it', async () => {
    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const { backupId } = JSON.parse(created.stdout) as { backupId: string };

    const rotated = await runCli(['backup', 'restore', '--id', backupId], { ...env, MASTER_KEY: KEY_B });
    expect(rotated.code).toBe(1);
    expect(failureLine(rotated)).toBe('wrong master key or corrupted backup');
    expect(strayFiles(ws.dbPath, restored)).toEqual([]);

    const withPrevious = await runCli(['backup', 'restore', '--id', backupId, '--json'], { ...env, MASTER_KEY: KEY_B, MASTER_KEY_PREVIOUS: KEY_A });
    expect(withPrevious.code, withPrevious.stderr).toBe(0);
    const result = JSON.parse(withPrevious.stdout) as { path: string; keyIndex: number };
    expect(result.keyIndex).toBe(1);
    expect(readNotes(result.path)).toEqual(readNotes(ws.dbPath));
    restored.push(`app.db.restore.${backupId}`);
  });

  it('leaves an existing {DB_PATH}.restore.{id} untouched and exits 1 unless --force', async () => {
    const created = await runCli(['backup', 'create', '--json'], env);
    const { backupId } = JSON.parse(created.stdout) as { backupId: string };
    const target = `${ws.dbPath}.restore.${backupId}`;
    restored.push(`app.db.restore.${backupId}`);
    writeBytes(target, 'an earlier restore the operator is inspecting');
    const mtime = statSync(target).mtimeMs;

    const refused = await runCli(['backup', 'restore', '--id', backupId], env);
    expect(refused.code).toBe(1);
    expect(failureLine(refused)).toBe(`${target} already exists; move it away or restore with --force`);
    expect(readFileSync(target, 'utf8')).toBe('an earlier restore the operator is inspecting');
    expect(statSync(target).mtimeMs).toBe(mtime);

    const forced = await runCli(['backup', 'restore', '--id', backupId, '--force'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readNotes(target)).toEqual(readNotes(ws.dbPath));
  });

  it('exits 2 for a malformed id and 1 for an unknown one', async () => {
    const malformed = await runCli(['backup', 'restore', '--id', '../../etc/passwd'], env);
    expect(malformed.code).toBe(2);
    const unknown = await runCli(['backup', 'restore', '--id', '20200101T000000Z-00000000'], env);
    expect(unknown.code).toBe(1);
    expect(failureLine(unknown)).toBe('backup not found: 20200101T000000Z-00000000');
  });
});
