import Database from 'better-sqlite3';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDecryptStream } from '../../src/crypto/crbu-decrypt-stream.js';
import { enqueueBackup } from '../../src/queue/enqueue.js';
import type { BackupResult } from '../../src/queue/job-types.js';
import { createBlobDatabase } from '../helpers/blob-database.js';
import { startInProcessWorkers, type InProcessWorkers } from '../helpers/in-process-workers.js';
import { removeDir, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Issue 13, finding 9: a request that arrives after a backup's snapshot was taken must not be told
 * its data is in that backup. It gets one follow-up backup; requests after it join the follow-up.
 */
describe('joining a backup request to one already queued', () => {
  let redis: TestRedis;
  let s3: TestS3Server;
  let proxy: TcpProxy;
  let workers: InProcessWorkers;
  let dir: string;

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server({ bucket: 'joining' })]);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
    dir = mkdtempSync(join(tmpdir(), 'snapkeep-joining-'));
    workers = await startInProcessWorkers(redis.url, {
      BACKUP_S3_ENDPOINT: proxy.url, BACKUP_S3_BUCKET: s3.bucket, BACKUP_S3_ACCESS_KEY: s3.accessKeyId, BACKUP_S3_SECRET_KEY: s3.secretAccessKey,
    });
    // A few MiB, so the upload can be held at a crawl while requests arrive.
    createBlobDatabase(workers.config.dbPath!, 4);
  });

  afterAll(async () => {
    await workers?.close();
    await proxy?.close();
    await Promise.all([redis?.close(), s3?.close()]);
    if (dir) removeDir(dir);
  });

  it('a request after the snapshot gets a follow-up backup that has its write; later requests join the follow-up', async () => {
    proxy.throttle(512 * 1024);
    const first = await enqueueBackup(workers.queues, { trigger: 'api' });
    expect(first.deduplicated).toBe(false);
    // While it waits its turn nobody has been snapshotted yet: a second request joins it.
    await workers.until(first.jobId, (s) => (s.progress as { phase?: string } | null)?.phase === 'upload');

    // The application writes after the first snapshot, then asks for a backup.
    const db = new Database(workers.config.dbPath!);
    db.exec("CREATE TABLE after_snapshot (note TEXT); INSERT INTO after_snapshot VALUES ('written after the first snapshot')");
    db.close();
    const second = await enqueueBackup(workers.queues, { trigger: 'api' });
    expect(second.deduplicated).toBe(false);
    expect(second.jobId).not.toBe(first.jobId);
    const third = await enqueueBackup(workers.queues, { trigger: 'api' });
    expect(third).toEqual({ jobId: second.jobId, deduplicated: true, source: 'default', queue: 'backup' });

    proxy.throttle(null);
    const [a, b] = [await workers.finished(first.jobId, 60_000), await workers.finished(second.jobId, 60_000)];
    expect(a.state, a.failedReason ?? '').toBe('completed');
    expect(b.state, b.failedReason ?? '').toBe('completed');
    // The follow-up's snapshot has the write; the first one's does not.
    const tables = async (result: BackupResult): Promise<string[]> => {
      const out = join(dir, `${result.backupId}.db`);
      const object = await workers.store.get(`${result.backupId}.crbu`);
      await pipeline(object.body, createDecryptStream(workers.config.masterKey!, { acceptVersions: [1] }), createWriteStream(out));
      const restored = new Database(out, { readonly: true });
      try {
        return (restored.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
      } finally {
        restored.close();
      }
    };
    expect(await tables(a.result as BackupResult)).not.toContain('after_snapshot');
    expect(await tables(b.result as BackupResult)).toContain('after_snapshot');
  });
});
