import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobDigest, createBlobDatabase } from '../helpers/blob-database.js';
import { startCephRgw, type TestCephRgw } from '../helpers/ceph-rgw.js';
import { runCli } from '../helpers/cli.js';
import { removeDir } from '../helpers/redis-server.js';
import { createSampleDatabase, readNotes } from '../helpers/sample-database.js';

const MiB = 1024 * 1024;

/** The built CLI against a production-grade S3 server: Ceph RGW (one mon, one OSD, radosgw), no Redis. */
describe('backup and restore through the CLI against Ceph RGW', () => {
  let ceph: TestCephRgw;
  let dir: string;
  let dbPath: string;
  let env: Record<string, string>;

  // Ceph starts in about 5 s here; the explicit timeout leaves room for a loaded machine.
  beforeAll(async () => {
    ceph = await startCephRgw({ bucket: 'snapkeep-e2e' });
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-ceph-e2e-'));
    dbPath = join(dir, 'app.db');
    createSampleDatabase(dbPath, 500);
    // 20 MiB of random blobs beside the notes: the backup is a multipart upload of 8 MiB parts.
    createBlobDatabase(dbPath, 20);
    env = {
      DB_PATH: dbPath, MASTER_KEY: randomBytes(32).toString('hex'), STATE_DIR: join(dir, 'state'),
      // radosgw itself, not the recorder in front of it.
      BACKUP_S3_ENDPOINT: ceph.rgwEndpoint, BACKUP_S3_BUCKET: ceph.bucket,
      BACKUP_S3_ACCESS_KEY: ceph.accessKeyId, BACKUP_S3_SECRET_KEY: ceph.secretAccessKey,
    };
  }, 180_000);

  afterAll(async () => {
    await ceph?.close();
    if (dir) removeDir(dir);
  });

  /** backUp runs `backup create --json` and checks the object Ceph holds at the key it printed. */
  async function backUp(extraEnv: Record<string, string> = {}): Promise<string> {
    const created = await runCli(['backup', 'create', '--json'], { ...env, ...extraEnv });
    expect(created.code, created.stderr).toBe(0);
    const { backupId, key, size } = JSON.parse(created.stdout) as { backupId: string; key: string; size: number };
    expect(key).toBe(`backups/${backupId}.crbu`);
    const client = new S3Client({
      endpoint: ceph.rgwEndpoint, region: 'us-east-1', forcePathStyle: true,
      credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
    });
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: ceph.bucket, Key: key }));
      expect(head.ContentLength).toBe(size);
      // A multipart object's ETag ends in its number of parts.
      expect(head.ETag).toMatch(new RegExp(`-${Math.ceil(size / (8 * MiB))}"$`));
    } finally {
      client.destroy();
    }
    return backupId;
  }

  /** restore runs `backup restore --id` and compares the restored database's rows with the source's. */
  async function restore(backupId: string): Promise<void> {
    const restored = await runCli(['backup', 'restore', '--id', backupId], env);
    expect(restored.code, restored.stderr).toBe(0);
    const restoredPath = `${dbPath}.restore.${backupId}`;
    expect(readNotes(restoredPath)).toEqual(readNotes(dbPath));
    expect(blobDigest(restoredPath)).toBe(blobDigest(dbPath));
  }

  let firstId = '';
  it('backup create stores a multipart object; backup list shows it; backup restore gives back the same rows', async () => {
    firstId = await backUp();
    const listed = await runCli(['backup', 'list', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const { backups } = JSON.parse(listed.stdout) as { backups: Array<{ id: string; key: string }> };
    expect(backups.map((b) => [b.id, b.key])).toEqual([[firstId, `backups/${firstId}.crbu`]]);
    await restore(firstId);
  });

  it('with BACKUP_S3_CONTENT_MD5, which Ceph checks part by part, a backup lists newest first and restores', async () => {
    const secondId = await backUp({ BACKUP_S3_CONTENT_MD5: 'true' });
    const listed = await runCli(['backup', 'list', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { backups: Array<{ id: string }> }).backups.map((b) => b.id)).toEqual([secondId, firstId]);
    await restore(secondId);
  });
});
